CREATE TABLE `api_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`name` text NOT NULL,
	`token_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer,
	`last_used_at` integer,
	`revoked_at` integer,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_tokens_token_hash_unique` ON `api_tokens` (`token_hash`);--> statement-breakpoint
CREATE INDEX `api_tokens_user` ON `api_tokens` (`user_id`);--> statement-breakpoint
CREATE TABLE `audit_reviews` (
	`audit_id` text NOT NULL,
	`host_app_id` text NOT NULL,
	`decision` text,
	`reason` text,
	`auditor_id` text,
	`decided_at` integer,
	PRIMARY KEY(`audit_id`, `host_app_id`),
	FOREIGN KEY (`audit_id`) REFERENCES `audits`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`host_app_id`) REFERENCES `host_apps`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `audit_reviews_host_app` ON `audit_reviews` (`host_app_id`);--> statement-breakpoint
CREATE TABLE `audits` (
	`id` text PRIMARY KEY NOT NULL,
	`mini_program_id` text NOT NULL,
	`version_id` text NOT NULL,
	`status` text NOT NULL,
	`note` text DEFAULT '' NOT NULL,
	`submitted_by` text NOT NULL,
	`submitted_at` integer NOT NULL,
	`closed_at` integer,
	FOREIGN KEY (`mini_program_id`) REFERENCES `mini_programs`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`version_id`) REFERENCES `versions`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `audits_app` ON `audits` (`mini_program_id`,`submitted_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `audits_one_pending` ON `audits` (`mini_program_id`) WHERE status = 'pending';--> statement-breakpoint
CREATE TABLE `bindings` (
	`mini_program_id` text NOT NULL,
	`host_app_id` text NOT NULL,
	`status` text NOT NULL,
	`requested_by` text NOT NULL,
	`decided_by` text,
	`created_at` integer NOT NULL,
	`decided_at` integer,
	PRIMARY KEY(`mini_program_id`, `host_app_id`),
	FOREIGN KEY (`mini_program_id`) REFERENCES `mini_programs`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`host_app_id`) REFERENCES `host_apps`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `bindings_host_app` ON `bindings` (`host_app_id`);--> statement-breakpoint
CREATE TABLE `change_log` (
	`id` text PRIMARY KEY NOT NULL,
	`at` integer NOT NULL,
	`actor_id` text NOT NULL,
	`action` text NOT NULL,
	`team_id` text,
	`target_type` text NOT NULL,
	`target_id` text NOT NULL,
	`detail` text DEFAULT '{}' NOT NULL
);
--> statement-breakpoint
CREATE INDEX `change_log_team` ON `change_log` (`team_id`,`at`);--> statement-breakpoint
CREATE INDEX `change_log_target` ON `change_log` (`target_type`,`target_id`,`at`);--> statement-breakpoint
CREATE TABLE `host_app_members` (
	`host_app_id` text NOT NULL,
	`user_id` text NOT NULL,
	`role` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`host_app_id`, `user_id`),
	FOREIGN KEY (`host_app_id`) REFERENCES `host_apps`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `host_app_members_user` ON `host_app_members` (`user_id`);--> statement-breakpoint
CREATE TABLE `host_apps` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `host_apps_name_unique` ON `host_apps` (`name`);--> statement-breakpoint
CREATE TABLE `mini_programs` (
	`id` text PRIMARY KEY NOT NULL,
	`team_id` text NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`listed` integer DEFAULT true NOT NULL,
	`online_version_id` text,
	`last_release_via` text,
	`trial_page_path` text,
	`snapshot_revision` integer DEFAULT 0 NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`team_id`) REFERENCES `teams`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `mini_programs_team` ON `mini_programs` (`team_id`);--> statement-breakpoint
CREATE TABLE `releases` (
	`id` text PRIMARY KEY NOT NULL,
	`mini_program_id` text NOT NULL,
	`seq` integer NOT NULL,
	`version_id` text NOT NULL,
	`version` text NOT NULL,
	`via` text NOT NULL,
	`from_version` text,
	`released_by` text NOT NULL,
	`released_at` integer NOT NULL,
	FOREIGN KEY (`mini_program_id`) REFERENCES `mini_programs`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`version_id`) REFERENCES `versions`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `releases_app_seq` ON `releases` (`mini_program_id`,`seq`);--> statement-breakpoint
CREATE TABLE `team_members` (
	`team_id` text NOT NULL,
	`user_id` text NOT NULL,
	`role` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`team_id`, `user_id`),
	FOREIGN KEY (`team_id`) REFERENCES `teams`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `team_members_user` ON `team_members` (`user_id`);--> statement-breakpoint
CREATE TABLE `teams` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `teams_name_unique` ON `teams` (`name`);--> statement-breakpoint
CREATE TABLE `trial_testers` (
	`mini_program_id` text NOT NULL,
	`account` text NOT NULL,
	PRIMARY KEY(`mini_program_id`, `account`),
	FOREIGN KEY (`mini_program_id`) REFERENCES `mini_programs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `users` (
	`id` text PRIMARY KEY NOT NULL,
	`email` text NOT NULL,
	`name` text NOT NULL,
	`password_hash` text NOT NULL,
	`is_platform_admin` integer DEFAULT false NOT NULL,
	`failed_logins` integer DEFAULT 0 NOT NULL,
	`locked_until` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_email_unique` ON `users` (`email`);--> statement-breakpoint
CREATE TABLE `versions` (
	`id` text PRIMARY KEY NOT NULL,
	`mini_program_id` text NOT NULL,
	`version` text NOT NULL,
	`version_key` text NOT NULL,
	`status` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`package_sha256` text NOT NULL,
	`package_size` integer NOT NULL,
	`file_count` integer NOT NULL,
	`unpacked_size` integer NOT NULL,
	`uploaded_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`first_released_at` integer,
	FOREIGN KEY (`mini_program_id`) REFERENCES `mini_programs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `versions_live_number` ON `versions` (`mini_program_id`,`version`) WHERE status <> 'discarded';--> statement-breakpoint
CREATE UNIQUE INDEX `versions_one_in_audit` ON `versions` (`mini_program_id`) WHERE status = 'in_audit';--> statement-breakpoint
CREATE UNIQUE INDEX `versions_one_development` ON `versions` (`mini_program_id`) WHERE status = 'development';--> statement-breakpoint
CREATE INDEX `versions_app_key` ON `versions` (`mini_program_id`,`version_key`);