import type { ComponentChildren } from "preact";
import type { ApiProblem } from "../api/problem.ts";

/** A labelled input with the API's message for it, tied together for screen readers. */
export function Field(props: {
  name: string;
  label: string;
  problem?: ApiProblem | null;
  hint?: string;
  children: (attributes: { id: string; name: string; "aria-describedby"?: string; "aria-invalid"?: boolean }) => ComponentChildren;
}) {
  const id = `field-${props.name}`;
  const message = props.problem?.fieldError(props.name);
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
