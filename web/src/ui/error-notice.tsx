import { ApiProblem, NetworkError } from "../api/problem.ts";

/** Says what went wrong in words a person can act on; a network failure (or any `onRetry`) gets a Retry button. */
export function ErrorNotice({ error, onRetry, fields = [] }: { error: unknown; onRetry?: () => void; fields?: string[] }) {
  if (!error) return null;
  let title = "Something went wrong";
  let detail: string;
  let list: { path: string; message: string }[] = [];
  if (error instanceof ApiProblem) {
    title = error.problem.title;
    detail = error.problem.detail ?? error.problem.title;
    // Field errors a form shows beside its fields are not repeated here.
    list = (error.problem.errors ?? []).filter((item) => !fields.includes(item.path.split(".")[0] ?? ""));
    if (error.retryAfterSeconds !== null && error.status === 429) detail += ` Try again in ${error.retryAfterSeconds} s.`;
  } else if (error instanceof NetworkError) {
    title = "No connection";
    detail = error.message;
  } else {
    detail = error instanceof Error ? error.message : String(error);
  }
  const retry = onRetry && (error instanceof NetworkError || !(error instanceof ApiProblem) || error.status >= 429);
  return (
    <div class="notice notice-error" role="alert">
      <p>
        <strong>{title}.</strong> {detail}
      </p>
      {list.length > 0 && (
        <ul>
          {list.map((item) => (
            <li key={item.path}>
              <code>{item.path}</code>: {item.message}
            </li>
          ))}
        </ul>
      )}
      {retry && (
        <button type="button" class="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}
