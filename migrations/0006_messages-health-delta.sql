CREATE TABLE `message_dead_letters` (
	`id` text PRIMARY KEY NOT NULL,
	`host_app_id` text NOT NULL,
	`message_id` text NOT NULL,
	`mini_program_id` text NOT NULL,
	`url` text NOT NULL,
	`attempts` integer NOT NULL,
	`last_error` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `message_dead_letters_host` ON `message_dead_letters` (`host_app_id`,`created_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `message_dead_letters_message` ON `message_dead_letters` (`message_id`);--> statement-breakpoint
CREATE TABLE `message_inbox` (
	`id` text PRIMARY KEY NOT NULL,
	`mini_program_id` text NOT NULL,
	`host_app_id` text NOT NULL,
	`openid` text NOT NULL,
	`template_id` text NOT NULL,
	`title` text NOT NULL,
	`page` text,
	`lines` text NOT NULL,
	`created_at` integer NOT NULL,
	`read_at` integer,
	`push_state` text NOT NULL,
	`push_attempts` integer DEFAULT 0 NOT NULL,
	`push_error` text
);
--> statement-breakpoint
CREATE INDEX `message_inbox_user` ON `message_inbox` (`mini_program_id`,`openid`,`created_at`);--> statement-breakpoint
CREATE INDEX `message_inbox_created` ON `message_inbox` (`created_at`);--> statement-breakpoint
CREATE TABLE `message_quota` (
	`template_id` text NOT NULL,
	`openid` text NOT NULL,
	`day` text NOT NULL,
	`used` integer NOT NULL,
	`last_message_id` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`template_id`, `openid`, `day`)
);
--> statement-breakpoint
CREATE INDEX `message_quota_updated` ON `message_quota` (`updated_at`);--> statement-breakpoint
CREATE TABLE `message_subscriptions` (
	`template_id` text NOT NULL,
	`openid` text NOT NULL,
	`mini_program_id` text NOT NULL,
	`host_app_id` text NOT NULL,
	`account_sealed` text NOT NULL,
	`type` text NOT NULL,
	`status` text NOT NULL,
	`credits` integer DEFAULT 0 NOT NULL,
	`last_message_id` text,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`template_id`, `openid`),
	FOREIGN KEY (`template_id`) REFERENCES `message_templates`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `message_templates` (
	`id` text PRIMARY KEY NOT NULL,
	`mini_program_id` text NOT NULL,
	`public_template_id` text NOT NULL,
	`keyword_set` text NOT NULL,
	`title` text NOT NULL,
	`category` text NOT NULL,
	`type` text NOT NULL,
	`keywords` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`mini_program_id`) REFERENCES `mini_programs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `message_templates_keyword_set` ON `message_templates` (`mini_program_id`,`public_template_id`,`keyword_set`);--> statement-breakpoint
CREATE TABLE `message_webhooks` (
	`host_app_id` text PRIMARY KEY NOT NULL,
	`url` text NOT NULL,
	`secret_sealed` text NOT NULL,
	`secret_set_at` integer NOT NULL,
	`updated_by` text NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`host_app_id`) REFERENCES `host_apps`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
ALTER TABLE `grayscale_tasks` ADD `guardrails` text;--> statement-breakpoint
ALTER TABLE `grayscale_tasks` ADD `health_since` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `grayscale_tasks` ADD `suspended_by_guardrail` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `grayscale_tasks` ADD `guardrail_trip` text;--> statement-breakpoint
ALTER TABLE `increments` ADD `delta_sha256` text;--> statement-breakpoint
ALTER TABLE `increments` ADD `delta_size` integer;--> statement-breakpoint
ALTER TABLE `increments` ADD `delta_enc_iv` text;--> statement-breakpoint
ALTER TABLE `increments` ADD `delta_enc_sha256` text;--> statement-breakpoint
ALTER TABLE `increments` ADD `delta_enc_size` integer;