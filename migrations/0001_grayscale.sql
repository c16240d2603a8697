CREATE TABLE `grayscale_tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`mini_program_id` text NOT NULL,
	`version_id` text NOT NULL,
	`version` text NOT NULL,
	`name` text NOT NULL,
	`definition` text NOT NULL,
	`state` text NOT NULL,
	`end_reason` text,
	`start_at` integer NOT NULL,
	`end_at` integer NOT NULL,
	`user_cap` integer,
	`percentage_bp` integer,
	`suspended_by_delisting` integer DEFAULT false NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`mini_program_id`) REFERENCES `mini_programs`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`version_id`) REFERENCES `versions`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `grayscale_tasks_app` ON `grayscale_tasks` (`mini_program_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `grayscale_tasks_state` ON `grayscale_tasks` (`state`);--> statement-breakpoint
CREATE TABLE `whitelists` (
	`id` text PRIMARY KEY NOT NULL,
	`task_id` text NOT NULL,
	`kind` text NOT NULL,
	`count` integer NOT NULL,
	`seed` integer NOT NULL,
	`bloom_bits` integer NOT NULL,
	`bloom_hashes` integer NOT NULL,
	`shards` integer NOT NULL,
	`uploaded_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`replaced_at` integer,
	FOREIGN KEY (`task_id`) REFERENCES `grayscale_tasks`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `whitelists_current` ON `whitelists` (`task_id`,`kind`) WHERE replaced_at is null;--> statement-breakpoint
CREATE INDEX `whitelists_replaced` ON `whitelists` (`replaced_at`);