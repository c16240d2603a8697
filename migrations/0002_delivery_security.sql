CREATE TABLE `increments` (
	`id` text PRIMARY KEY NOT NULL,
	`mini_program_id` text NOT NULL,
	`from_version` text NOT NULL,
	`to_version` text NOT NULL,
	`from_package_sha256` text NOT NULL,
	`to_package_sha256` text NOT NULL,
	`status` text NOT NULL,
	`from_files_sha256` text,
	`sha256` text,
	`size` integer,
	`full_size` integer NOT NULL,
	`enc_iv` text,
	`enc_sha256` text,
	`enc_size` integer,
	`attempts` integer DEFAULT 0 NOT NULL,
	`detail` text DEFAULT '' NOT NULL,
	`created_at` integer NOT NULL,
	`built_at` integer,
	FOREIGN KEY (`mini_program_id`) REFERENCES `mini_programs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `increments_pair` ON `increments` (`mini_program_id`,`to_package_sha256`,`from_package_sha256`);--> statement-breakpoint
CREATE INDEX `increments_status` ON `increments` (`status`);--> statement-breakpoint
CREATE TABLE `offline_packages` (
	`id` text PRIMARY KEY NOT NULL,
	`mini_program_id` text NOT NULL,
	`version_id` text NOT NULL,
	`version` text NOT NULL,
	`package_sha256` text NOT NULL,
	`downloaded_by` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`mini_program_id`) REFERENCES `mini_programs`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`version_id`) REFERENCES `versions`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `offline_packages_app` ON `offline_packages` (`mini_program_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `team_signing_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`team_id` text NOT NULL,
	`name` text NOT NULL,
	`alg` text NOT NULL,
	`public_jwk` text NOT NULL,
	`thumbprint` text NOT NULL,
	`status` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`revoked_at` integer,
	FOREIGN KEY (`team_id`) REFERENCES `teams`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `team_signing_keys_team` ON `team_signing_keys` (`team_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `team_signing_keys_thumbprint` ON `team_signing_keys` (`team_id`,`thumbprint`);--> statement-breakpoint
ALTER TABLE `mini_programs` ADD `encrypt_packages` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `versions` ADD `files_sha256` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `versions` ADD `signature_kid` text;--> statement-breakpoint
ALTER TABLE `versions` ADD `signature_alg` text;--> statement-breakpoint
ALTER TABLE `versions` ADD `signature` text;--> statement-breakpoint
ALTER TABLE `versions` ADD `enc_sha256` text;--> statement-breakpoint
ALTER TABLE `versions` ADD `enc_size` integer;--> statement-breakpoint
ALTER TABLE `versions` ADD `enc_iv` text;--> statement-breakpoint
ALTER TABLE `versions` ADD `enc_key_wrapped` text;