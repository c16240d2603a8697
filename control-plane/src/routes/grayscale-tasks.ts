/**
 * Grayscale tasks of a mini program (PRODUCT.md G1-G3): create, list, details, edit and the
 * manual actions. Team admins and developers write, viewers read, other teams get 404.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, jsonBody, jsonResponse } from "../../../core/contracts/common";
import type { TaskAction } from "../../../core/grayscale/lifecycle";
import { createRouter } from "../app";
import { toTaskDefinition } from "../lib/grayscale-wire";
import { actOnTask, createTask, editTask, getTask, listTasks } from "../services/grayscale-tasks";
import { AppParams, CreateTaskSchema, EditTaskSchema, TaskParams, TaskSchema } from "./grayscale-schemas";

export const grayscaleTaskRoutes = createRouter();

const ACTIONS: Record<string, TaskAction> = {
  suspend: "suspend",
  resume: "resume",
  end: "end",
  "end-and-revert": "end_and_revert",
};

// Create a grayscale task (seed rules checked by core: 409 with the rule).
grayscaleTaskRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/grayscale-tasks",
    tags: ["grayscale"],
    summary: "Create a grayscale task",
    description:
      "Create a grayscale task. Limits on the request itself (name length, typed targets per kind, user cap) are refused with 400 naming the seed rule; rules that depend on current state (version approved and never online, end time, bound host apps...) with 409 naming the rule.",
    request: { params: AppParams, body: jsonBody(CreateTaskSchema) },
    responses: { 201: jsonResponse(TaskSchema, "Created"), ...errorResponses },
  }),
  async (c) => {
    const body = c.req.valid("json");
    return c.json(
      await createTask(
        c.var.db,
        c.env.PACKAGES,
        c.var.actor,
        c.req.valid("param").appId,
        toTaskDefinition(body),
        body.guardrails ?? null,
      ),
      201,
    );
  },
);

// List the tasks, newest first, each with its effective state.
grayscaleTaskRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/grayscale-tasks",
    tags: ["grayscale"],
    summary: "List grayscale tasks",
    description: "List the tasks, newest first, each with its effective state.",
    request: { params: AppParams },
    responses: {
      200: jsonResponse(z.object({ tasks: z.array(TaskSchema) }), "Tasks, newest first"),
      ...errorResponses,
    },
  }),
  async (c) => c.json({ tasks: await listTasks(c.var.db, c.var.actor, c.req.valid("param").appId) }, 200),
);

// One task.
grayscaleTaskRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/grayscale-tasks/{taskId}",
    tags: ["grayscale"],
    summary: "Get a grayscale task",
    description: "One grayscale task with its definition and effective state.",
    request: { params: TaskParams },
    responses: { 200: jsonResponse(TaskSchema, "Task"), ...errorResponses },
  }),
  async (c) => {
    const { appId, taskId } = c.req.valid("param");
    return c.json(await getTask(c.var.db, c.var.actor, appId, taskId), 200);
  },
);

// Edit the fields the task's state allows (all while pending; name, end time, cap, percentage once started).
grayscaleTaskRoutes.openapi(
  createRoute({
    method: "patch",
    path: "/{appId}/grayscale-tasks/{taskId}",
    tags: ["grayscale"],
    summary: "Edit a grayscale task",
    description:
      "Edit the fields the task's state allows (all while pending; name, end time, cap, percentage once started).",
    request: { params: TaskParams, body: jsonBody(EditTaskSchema) },
    responses: { 200: jsonResponse(TaskSchema, "Edited"), ...errorResponses },
  }),
  async (c) => {
    const { appId, taskId } = c.req.valid("param");
    return c.json(
      await editTask(
        c.var.db,
        c.env.PACKAGES,
        c.env.GRAYSCALE_COUNTER,
        c.var.actor,
        appId,
        taskId,
        c.req.valid("json"),
      ),
      200,
    );
  },
);

// Suspend, resume, end (admitted users keep the version) or end and revert (everyone goes back).
grayscaleTaskRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/grayscale-tasks/{taskId}/{action}",
    tags: ["grayscale"],
    summary: "Suspend, resume or end a grayscale task",
    description:
      "Suspend, resume, end (admitted users keep the version) or end and revert (everyone goes back).",
    request: {
      params: TaskParams.extend({
        action: z
          .enum(["suspend", "resume", "end", "end-and-revert"])
          .openapi({ param: { name: "action", in: "path" } }),
      }),
    },
    responses: { 200: jsonResponse(TaskSchema, "The task after the action"), ...errorResponses },
  }),
  async (c) => {
    const { appId, taskId, action } = c.req.valid("param");
    return c.json(
      await actOnTask(c.var.db, c.env.PACKAGES, c.var.actor, appId, taskId, ACTIONS[action] as TaskAction, {
        counters: c.env.GRAYSCALE_COUNTER,
        waitUntil: (work) => c.executionCtx.waitUntil(work),
      }),
      200,
    );
  },
);
