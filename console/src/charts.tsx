/**
 * Inline SVG charts for grayscale progress: no chart library, no inline styles (the CSP allows
 * only the console's stylesheet), colours from console.css classes. Each chart has a text
 * alternative for screen readers.
 */
const W = 480;
const H = 200;
const PAD = { l: 44, r: 12, t: 12, b: 28 };

const hourLabel = (ms: number) =>
  new Date(ms).toLocaleString(undefined, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });

export function LineChart(props: { title: string; points: { x: number; y: number }[]; cap: number | null }) {
  const { points, cap } = props;
  const last = points[points.length - 1];
  const xMin = points[0]?.x ?? 0;
  const xMax = Math.max(last?.x ?? 1, Date.now(), xMin + 3_600_000);
  const yMax = Math.max(1, cap ?? 0, ...points.map((p) => p.y));
  const sx = (x: number) => PAD.l + ((x - xMin) / (xMax - xMin)) * (W - PAD.l - PAD.r);
  const sy = (y: number) => H - PAD.b - (y / yMax) * (H - PAD.t - PAD.b);
  // A step line: the count holds until the next hour's admissions, and until now after the last.
  let d = "";
  points.forEach((p, i) => {
    d += i === 0 ? `M${sx(p.x)},${sy(p.y)}` : `H${sx(p.x)}V${sy(p.y)}`;
  });
  if (last) d += `H${sx(xMax)}`;
  const summary = `${props.title}: ${last?.y ?? 0} admitted${cap != null ? ` of a cap of ${cap}` : ""}`;
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={summary}>
        <title>{summary}</title>
        <line class="axis" x1={PAD.l} y1={H - PAD.b} x2={W - PAD.r} y2={H - PAD.b} />
        <line class="axis" x1={PAD.l} y1={PAD.t} x2={PAD.l} y2={H - PAD.b} />
        <text class="tick" x={PAD.l - 6} y={sy(0) + 4} text-anchor="end">
          0
        </text>
        <text class="tick" x={PAD.l - 6} y={sy(yMax) + 4} text-anchor="end">
          {yMax}
        </text>
        {cap != null && (
          <>
            <line class="cap" x1={PAD.l} y1={sy(cap)} x2={W - PAD.r} y2={sy(cap)} />
            <text class="cap-label" x={W - PAD.r} y={sy(cap) - 4} text-anchor="end">
              cap {cap}
            </text>
          </>
        )}
        <path class="line" d={d} />
        <text class="tick" x={PAD.l} y={H - 8}>
          {hourLabel(xMin)}
        </text>
        <text class="tick" x={W - PAD.r} y={H - 8} text-anchor="end">
          now
        </text>
      </svg>
    </figure>
  );
}

export function BarChart(props: { title: string; bars: { label: string; value: number }[] }) {
  const max = Math.max(1, ...props.bars.map((b) => b.value));
  const rowH = 26;
  const h = Math.max(1, props.bars.length) * rowH + 8;
  const summary = `${props.title}: ${props.bars.map((b) => `${b.label} ${b.value}`).join(", ") || "no users yet"}`;
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <svg viewBox={`0 0 ${W} ${h}`} role="img" aria-label={summary}>
        <title>{summary}</title>
        {props.bars.length === 0 && (
          <text class="tick" x={8} y={20}>
            no users yet
          </text>
        )}
        {props.bars.map((b, i) => (
          <g>
            <text class="tick" x={8} y={i * rowH + 20}>
              {b.label}
            </text>
            <rect
              class="bar"
              x={140}
              y={i * rowH + 6}
              height={18}
              width={Math.max(2, (b.value / max) * (W - 200))}
            />
            <text class="tick" x={148 + (b.value / max) * (W - 200)} y={i * rowH + 20}>
              {b.value}
            </text>
          </g>
        ))}
      </svg>
    </figure>
  );
}
