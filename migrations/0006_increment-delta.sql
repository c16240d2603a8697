ALTER TABLE `increments` ADD `delta_sha256` text;--> statement-breakpoint
ALTER TABLE `increments` ADD `delta_size` integer;--> statement-breakpoint
ALTER TABLE `increments` ADD `delta_enc_iv` text;--> statement-breakpoint
ALTER TABLE `increments` ADD `delta_enc_sha256` text;--> statement-breakpoint
ALTER TABLE `increments` ADD `delta_enc_size` integer;