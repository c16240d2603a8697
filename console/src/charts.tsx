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

/**
 * Two series over the same times (the gray version against the online one, per 10-minute bucket
 * of health figures): a line each, a dot per bucket, a legend; the text alternative gives the
 * latest value of each.
 */
export function SeriesChart(props: {
  title: string;
  unit: string;
  gray: { label: string; points: { x: number; y: number }[] };
  online: { label: string; points: { x: number; y: number }[] };
}) {
  const all = [...props.gray.points, ...props.online.points];
  const xMin = Math.min(...all.map((p) => p.x));
  const xMax = Math.max(xMin + 600_000, ...all.map((p) => p.x));
  const yMax = Math.max(1, ...all.map((p) => p.y));
  const sx = (x: number) => PAD.l + ((x - xMin) / (xMax - xMin)) * (W - PAD.l - PAD.r);
  const sy = (y: number) => H - PAD.b - (y / yMax) * (H - PAD.t - PAD.b - 14);
  const path = (points: { x: number; y: number }[]) =>
    [...points]
      .sort((a, b) => a.x - b.x)
      .map((p, i) => `${i === 0 ? "M" : "L"}${sx(p.x)},${sy(p.y)}`)
      .join("");
  const latest = (s: { label: string; points: { x: number; y: number }[] }) => {
    const last = [...s.points].sort((a, b) => a.x - b.x).pop();
    return `${s.label} ${last ? `${last.y}${props.unit}` : "no data"}`;
  };
  const summary = `${props.title}, latest bucket: ${latest(props.gray)}; ${latest(props.online)}`;
  const fmtY = (y: number) => `${Math.round(y * 100) / 100}${props.unit}`;
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={summary}>
        <title>{summary}</title>
        <line class="axis" x1={PAD.l} y1={H - PAD.b} x2={W - PAD.r} y2={H - PAD.b} />
        <line class="axis" x1={PAD.l} y1={PAD.t + 14} x2={PAD.l} y2={H - PAD.b} />
        <text class="tick" x={PAD.l - 6} y={sy(0) + 4} text-anchor="end">
          0
        </text>
        <text class="tick" x={PAD.l - 6} y={sy(yMax) + 4} text-anchor="end">
          {fmtY(yMax)}
        </text>
        <text class="legend legend-gray" x={PAD.l + 4} y={PAD.t + 2}>
          ━ {props.gray.label}
        </text>
        <text class="legend legend-online" x={W - PAD.r} y={PAD.t + 2} text-anchor="end">
          ┅ {props.online.label}
        </text>
        {props.online.points.length > 0 && <path class="series-online" d={path(props.online.points)} />}
        {props.gray.points.length > 0 && <path class="series-gray" d={path(props.gray.points)} />}
        {props.online.points.map((p) => (
          <circle class="dot-online" cx={sx(p.x)} cy={sy(p.y)} r={3} />
        ))}
        {props.gray.points.map((p) => (
          <circle class="dot-gray" cx={sx(p.x)} cy={sy(p.y)} r={3} />
        ))}
        <text class="tick" x={PAD.l} y={H - 8}>
          {hourLabel(xMin)}
        </text>
        <text class="tick" x={W - PAD.r} y={H - 8} text-anchor="end">
          {hourLabel(xMax)}
        </text>
      </svg>
    </figure>
  );
}
