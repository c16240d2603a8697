ALTER TABLE `grayscale_tasks` ADD `guardrails` text;--> statement-breakpoint
ALTER TABLE `grayscale_tasks` ADD `health_since` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `grayscale_tasks` ADD `suspended_by_guardrail` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `grayscale_tasks` ADD `guardrail_trip` text;