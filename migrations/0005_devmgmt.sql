CREATE TABLE `app_secrets` (
	`mini_program_id` text PRIMARY KEY NOT NULL,
	`salt` text NOT NULL,
	`secret_hash` text NOT NULL,
	`generation` integer NOT NULL,
	`frozen` integer DEFAULT false NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`reset_at` integer,
	`frozen_at` integer,
	FOREIGN KEY (`mini_program_id`) REFERENCES `mini_programs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `host_app_sensitive_apis` (
	`host_app_id` text NOT NULL,
	`name` text NOT NULL,
	`description` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`host_app_id`, `name`),
	FOREIGN KEY (`host_app_id`) REFERENCES `host_apps`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `mini_program_domains` (
	`id` text PRIMARY KEY NOT NULL,
	`mini_program_id` text NOT NULL,
	`kind` text NOT NULL,
	`domain` text NOT NULL,
	`verification_token` text,
	`verified_at` integer,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`mini_program_id`) REFERENCES `mini_programs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `mini_program_domains_unique` ON `mini_program_domains` (`mini_program_id`,`kind`,`domain`);--> statement-breakpoint
CREATE TABLE `privacy_agreements` (
	`mini_program_id` text NOT NULL,
	`version` integer NOT NULL,
	`fields` text NOT NULL,
	`text` text NOT NULL,
	`sha256` text NOT NULL,
	`published_by` text NOT NULL,
	`published_at` integer NOT NULL,
	PRIMARY KEY(`mini_program_id`, `version`),
	FOREIGN KEY (`mini_program_id`) REFERENCES `mini_programs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `privacy_drafts` (
	`mini_program_id` text PRIMARY KEY NOT NULL,
	`fields` text NOT NULL,
	`updated_by` text NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`mini_program_id`) REFERENCES `mini_programs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `sensitive_api_applications` (
	`id` text PRIMARY KEY NOT NULL,
	`mini_program_id` text NOT NULL,
	`host_app_id` text NOT NULL,
	`api_name` text NOT NULL,
	`status` text NOT NULL,
	`reason` text NOT NULL,
	`applied_by` text NOT NULL,
	`applied_at` integer NOT NULL,
	`decided_by` text,
	`decided_at` integer,
	`decision_reason` text,
	FOREIGN KEY (`mini_program_id`) REFERENCES `mini_programs`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`host_app_id`) REFERENCES `host_apps`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `sensitive_api_applications_app` ON `sensitive_api_applications` (`mini_program_id`,`host_app_id`,`api_name`);--> statement-breakpoint
CREATE INDEX `sensitive_api_applications_host_app` ON `sensitive_api_applications` (`host_app_id`,`status`);--> statement-breakpoint
CREATE TABLE `server_access_tokens` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`mini_program_id` text NOT NULL,
	`secret_generation` integer NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	FOREIGN KEY (`mini_program_id`) REFERENCES `mini_programs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `server_access_tokens_app` ON `server_access_tokens` (`mini_program_id`);--> statement-breakpoint
CREATE INDEX `server_access_tokens_expiry` ON `server_access_tokens` (`expires_at`);--> statement-breakpoint
CREATE TABLE `skip_domain_applications` (
	`id` text PRIMARY KEY NOT NULL,
	`mini_program_id` text NOT NULL,
	`host_app_id` text NOT NULL,
	`status` text NOT NULL,
	`reason` text NOT NULL,
	`applied_by` text NOT NULL,
	`applied_at` integer NOT NULL,
	`decided_by` text,
	`decided_at` integer,
	`decision_reason` text,
	FOREIGN KEY (`mini_program_id`) REFERENCES `mini_programs`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`host_app_id`) REFERENCES `host_apps`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `skip_domain_applications_app` ON `skip_domain_applications` (`mini_program_id`,`host_app_id`);--> statement-breakpoint
CREATE INDEX `skip_domain_applications_host_app` ON `skip_domain_applications` (`host_app_id`,`status`);--> statement-breakpoint
CREATE TABLE `switches` (
	`id` text PRIMARY KEY NOT NULL,
	`mini_program_id` text NOT NULL,
	`host_app_id` text DEFAULT '' NOT NULL,
	`task_id` text DEFAULT '' NOT NULL,
	`key` text NOT NULL,
	`type` text NOT NULL,
	`value` text NOT NULL,
	`updated_by` text NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`mini_program_id`) REFERENCES `mini_programs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `switches_unique` ON `switches` (`mini_program_id`,`host_app_id`,`task_id`,`key`);--> statement-breakpoint
CREATE TABLE `used_login_codes` (
	`code_id` text PRIMARY KEY NOT NULL,
	`mini_program_id` text NOT NULL,
	`used_at` integer NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `used_login_codes_expiry` ON `used_login_codes` (`expires_at`);--> statement-breakpoint
ALTER TABLE `mini_programs` ADD `config_revision` integer DEFAULT 0 NOT NULL;