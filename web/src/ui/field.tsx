import type { ComponentChildren } from "preact";

/** A labelled input with what is wrong with it (the app's words), tied together for screen readers. */
export function Field(props: {
  name: string;
  label: string;
  /** What to fix, from `fieldWords` (web/src/api/words.ts). */
  message?: string;
  hint?: string;
  children: (attributes: { id: string; name: string; "aria-describedby"?: string; "aria-invalid"?: boolean }) => ComponentChildren;
}) {
  const id = `field-${props.name}`;
  const { message } = props;
  const described = [props.hint && `${id}-hint`, message && `${id}-error`].filter(Boolean).join(" ");
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      {props.hint && (
        <small id={`${id}-hint`} class="hint">
          {props.hint}
        </small>
      )}
      {props.children({ id, name: props.name, "aria-describedby": described || undefined, "aria-invalid": message ? true : undefined })}
      {message && (
        <small id={`${id}-error`} class="field-error">
          {message}
        </small>
      )}
    </div>
  );
}
