/**
 * A reference client on its Node bindings (FsStore in a fresh temporary directory) pointed at a
 * fake edge, and the look at its store the attack tests compare before and after.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach } from "vitest";
import { createNodeClient } from "../../src/node";
import type { ClientConfig } from "../../src/types";
import { type FakeEdge, startFakeEdge } from "./edge";
import { APP_ID, HOST_APP, storeContents } from "./fixtures";

export interface TestDevice {
  /** the directory holding the store (`<root>/<appId>/`) */
  root: string;
  client: ReturnType<typeof createNodeClient>;
  /** the store directory's files and bytes right now */
  contents(): [string, string][];
  cleanup(): void;
}

export function deviceFor(edge: FakeEdge, extra: Partial<ClientConfig> = {}): TestDevice {
  const dir = mkdtempSync(join(tmpdir(), "graycast-client-"));
  const client = createNodeClient(
    {
      edge: edge.url,
      appId: APP_ID,
      hostAppId: HOST_APP,
      device: { hostAppVersion: "8.0.1", platform: "android", osVersion: "14" },
      platformKeys: edge.pinned,
      ...extra,
    },
    dir,
  );
  return {
    root: dir,
    client,
    contents: () => storeContents(dir),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * A fresh fake edge and device for every test of the calling file (hooks registered here); read
 * them as `t.edge` and `t.device` inside tests.
 */
export function freshEdgeAndDevice(): { edge: FakeEdge; device: TestDevice } {
  const current = {} as { edge: FakeEdge; device: TestDevice };
  beforeEach(async () => {
    current.edge = await startFakeEdge();
    current.device = deviceFor(current.edge);
  });
  afterEach(async () => {
    await current.edge.close();
    current.device.cleanup();
  });
  return current;
}
