ALTER TABLE `users` DROP COLUMN `failed_logins`;--> statement-breakpoint
ALTER TABLE `users` DROP COLUMN `locked_until`;--> statement-breakpoint
-- Hand-added: API tokens made before tokens had a default expiry get one, 90 days from this migration.
UPDATE `api_tokens` SET `expires_at` = (unixepoch() * 1000) + 7776000000 WHERE `expires_at` IS NULL AND `revoked_at` IS NULL;
