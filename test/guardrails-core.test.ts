/**
 * The guardrail rule itself (core/grayscale/health.ts `judgeHealth`): "more than" is strict, both
 * versions need the minimum of sessions, crashes are judged first.
 */
import { describe, expect, it } from "vitest";
import { errorRateOf, type HealthWindow, judgeHealth, versionHealth } from "../core/grayscale/health";

const window = (gray: [number, number], online: [number, number], grayCrashes = 0): HealthWindow => ({
  errorWindow: {
    from: 0,
    to: 600_000,
    gray: versionHealth(gray[0], gray[1], grayCrashes),
    online: versionHealth(online[0], online[1], 0),
  },
  crashWindow: { from: 0, to: 600_000, grayCrashes },
});
const errorRate = { maxPointsAboveOnline: 10, minSessions: 20, windowMinutes: 10 as const };

describe("judgeHealth", () => {
  it("error rate: sessions with an error over sessions, in percent with two decimals", () => {
    expect(errorRateOf(0, 0)).toBe(0);
    expect(errorRateOf(3, 1)).toBe(33.33);
    expect(errorRateOf(20, 20)).toBe(100);
  });

  it("trips only strictly above the allowed points", () => {
    expect(judgeHealth({ errorRate }, window([20, 4], [20, 2]))).toBeNull(); // 20% vs 10%: exactly 10 points
    expect(judgeHealth({ errorRate }, window([20, 5], [20, 2]))).toMatchObject({
      guardrail: "error_rate",
      gray: { errorRate: 25 },
      online: { errorRate: 10 },
    });
  });

  it("needs minSessions on both sides", () => {
    expect(judgeHealth({ errorRate }, window([19, 19], [100, 0]))).toBeNull();
    expect(judgeHealth({ errorRate }, window([100, 100], [19, 0]))).toBeNull();
    expect(judgeHealth({ errorRate }, window([20, 20], [20, 0]))).not.toBeNull();
  });

  it("crashes: more than max trips, and is judged before the error rate", () => {
    const crashes = { max: 2, windowMinutes: 60 };
    expect(judgeHealth({ crashes }, window([1, 1], [0, 0], 2))).toBeNull();
    expect(judgeHealth({ crashes, errorRate }, window([20, 20], [20, 0], 3))).toMatchObject({
      guardrail: "crashes",
      window: { minutes: 60 },
      gray: { crashes: 3 },
    });
    expect(judgeHealth({ crashes: { max: 0, windowMinutes: 10 } }, window([1, 1], [0, 0], 1))).not.toBeNull();
  });

  it("no guardrails, no trip", () => {
    expect(judgeHealth({}, window([100, 100], [100, 0], 100))).toBeNull();
  });
});
