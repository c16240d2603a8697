CREATE TABLE `host_app_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`host_app_id` text NOT NULL,
	`name` text NOT NULL,
	`alg` text NOT NULL,
	`public_jwk` text NOT NULL,
	`thumbprint` text NOT NULL,
	`status` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`retired_at` integer,
	`revoked_at` integer,
	FOREIGN KEY (`host_app_id`) REFERENCES `host_apps`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `host_app_keys_host_app` ON `host_app_keys` (`host_app_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `host_app_keys_thumbprint` ON `host_app_keys` (`host_app_id`,`thumbprint`);--> statement-breakpoint
CREATE TABLE `sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `sessions_user` ON `sessions` (`user_id`);--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `scopes` text DEFAULT '["read","write","publish","admin"]' NOT NULL;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `created_by_session_id` text;--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `created_by_token_id` text;--> statement-breakpoint
CREATE INDEX `api_tokens_parent_session` ON `api_tokens` (`created_by_session_id`);--> statement-breakpoint
CREATE INDEX `api_tokens_parent_token` ON `api_tokens` (`created_by_token_id`);--> statement-breakpoint
ALTER TABLE `audits` ADD `kind` text DEFAULT 'version' NOT NULL;--> statement-breakpoint
ALTER TABLE `increments` ADD `started_at` integer;--> statement-breakpoint
ALTER TABLE `mini_programs` ADD `published_revision` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `disabled_at` integer;--> statement-breakpoint
-- Hand-added: increments waiting for a build were "pending"; they are "queued" now.
UPDATE `increments` SET `status` = 'queued' WHERE `status` = 'pending';--> statement-breakpoint
-- Hand-added: every snapshot written before this migration is taken as published.
UPDATE `mini_programs` SET `published_revision` = `snapshot_revision`;
