/** Small building blocks every page shares: loading data, forms with per-field errors, dates. */
import type { Child } from "hono/jsx/dom";
import { useEffect, useRef, useState } from "hono/jsx/dom";
import { ApiError, type Issue } from "./api";

/** Dates in the user's own time zone and locale. */
export const fmtDate = (ms: number | null | undefined): string =>
  ms == null ? "—" : new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });

export const fmtBytes = (n: number | null | undefined): string =>
  n == null
    ? "—"
    : n < 1024
      ? `${n} B`
      : n < 1048576
        ? `${(n / 1024).toFixed(1)} KiB`
        : `${(n / 1048576).toFixed(1)} MiB`;

/** Loads data for a page; `reload` fetches it again after a change. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (d) => live && (setData(d), setError(undefined)),
      (e) => live && setError(asApiError(e)),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { data, error, reload: () => setTick((t) => t + 1) };
}

export const asApiError = (e: unknown): ApiError =>
  e instanceof ApiError ? e : new ApiError(0, "error", e instanceof Error ? e.message : String(e));

/** The issues of an error that belong to one field (the API's `issues[].path`, dotted). */
export function issuesFor(error: ApiError | undefined, field: string): Issue[] {
  if (!error) return [];
  return error.issues.filter((i) => i.path === field || i.path.startsWith(`${field}.`));
}

/** A labelled input with its errors right below it, tied with aria-describedby. */
export function Field(props: {
  name: string;
  /** the element id when the same field name appears more than once on a page */
  id?: string;
  label: string;
  error?: ApiError;
  /** extra messages for this field (for example a seed rule the API refused with 409) */
  messages?: string[];
  hint?: string;
  type?: string;
  value?: string;
  required?: boolean;
  placeholder?: string;
  multiline?: boolean;
  autocomplete?: string;
  min?: string;
  max?: string;
  step?: string;
}) {
  const id = props.id ?? `f-${props.name.replace(/[^a-zA-Z0-9]/g, "-")}`;
  const messages = [...issuesFor(props.error, props.name).map((i) => i.message), ...(props.messages ?? [])];
  const described = [props.hint ? `${id}-hint` : "", messages.length ? `${id}-err` : ""]
    .filter(Boolean)
    .join(" ");
  const common = {
    id,
    name: props.name,
    required: props.required,
    placeholder: props.placeholder,
    "aria-invalid": messages.length ? "true" : undefined,
    "aria-describedby": described || undefined,
  };
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      {props.multiline ? (
        <textarea {...common} rows={4}>
          {props.value ?? ""}
        </textarea>
      ) : (
        <input
          {...common}
          type={props.type ?? "text"}
          value={props.value ?? ""}
          autocomplete={props.autocomplete}
          min={props.min}
          max={props.max}
          step={props.step}
        />
      )}
      {props.hint && (
        <small id={`${id}-hint`} class="hint">
          {props.hint}
        </small>
      )}
      {messages.length > 0 && (
        <p id={`${id}-err`} class="field-error" role="alert">
          {messages.join("; ")}
        </p>
      )}
    </div>
  );
}

/** The error of a whole action (and of its issues no field claimed). */
export function ErrorNote(props: { error?: ApiError; fields?: string[] }) {
  if (!props.error) return null;
  const loose = props.error.issues.filter(
    (i) => !(props.fields ?? []).some((f) => i.path === f || i.path.startsWith(`${f}.`)),
  );
  return (
    <div class="error" role="alert">
      <strong>{props.error.message}</strong>
      {loose.length > 0 && (
        <ul>
          {loose.map((i) => (
            <li>
              {i.path ? `${i.path}: ` : ""}
              {i.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Notice(props: { children: Child; kind?: "ok" | "info" }) {
  return (
    <p class={`notice ${props.kind ?? "ok"}`} role="status">
      {props.children}
    </p>
  );
}

export function Loading(props: { error?: ApiError }) {
  return props.error ? <ErrorNote error={props.error} /> : <p class="loading">Loading…</p>;
}

/** A copy button (App ID, tokens): says "Copied" once the clipboard has it. */
export function CopyButton(props: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="small"
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(props.text);
        } catch {
          // Clipboard refused (no permission, plain http): select-and-copy by hand still works.
        }
        setDone(true);
        setTimeout(() => setDone(false), 2000);
      }}
    >
      {done ? "Copied" : props.label}
    </button>
  );
}

/** A confirmation step in the page (no window.confirm): says what the action does before doing it. */
export function Confirm(props: {
  title: string;
  children: Child;
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDivElement>(null);
  // Keyboard users land on the choice at once; Escape cancels.
  useEffect(() => {
    ref.current?.querySelector("button")?.focus();
  }, []);
  return (
    <div
      class="confirm"
      role="alertdialog"
      aria-labelledby="confirm-title"
      aria-describedby="confirm-body"
      ref={ref}
      onKeyDown={(e: KeyboardEvent) => {
        if (e.key === "Escape") props.onCancel();
      }}
    >
      <h3 id="confirm-title">{props.title}</h3>
      <div id="confirm-body">{props.children}</div>
      <div class="actions">
        <button type="button" class={props.danger ? "danger" : "primary"} onClick={props.onConfirm}>
          {props.confirmLabel}
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}

/** The value of a form's field, trimmed ("" when missing). */
export const formValue = (form: FormData, name: string): string => String(form.get(name) ?? "").trim();

/** Lines of a textarea or a comma list, blanks dropped. */
export const listValue = (text: string): string[] =>
  text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);

export function StatusBadge(props: { status: string }) {
  return (
    <span class={`badge s-${props.status.replace(/[^a-z_]/g, "")}`}>{props.status.replace(/_/g, " ")}</span>
  );
}
