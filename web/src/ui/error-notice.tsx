import { ApiProblem } from "../api/problem.ts";
import { describeError, fieldLabel, fieldWords, type Task } from "../api/words.ts";

/**
 * Says what went wrong in the app's own words (web/src/api/words.ts), for what the person was
 * doing (`task`); a failure worth repeating gets a Try again button when there is an `onRetry`.
 * Field errors a form shows beside its `fields` are not repeated; others are listed by label.
 */
export function ErrorNotice({
  error,
  task,
  onRetry,
  fields = [],
  values = {},
}: {
  error: unknown;
  task: Task;
  onRetry?: () => void;
  fields?: string[];
  values?: Record<string, unknown>;
}) {
  if (!error) return null;
  const words = describeError(error, task);
  const others = Object.entries(fieldWords(error, values, task)).filter(([field]) => !fields.includes(field));
  return (
    <div class="notice notice-error" role="alert">
      <p>
        <strong>{words.title}.</strong> {words.body}
      </p>
      {others.length > 0 && (
        <ul>
          {others.map(([field, message]) => (
            <li key={field}>
              {fieldLabel(field)}: {message}
            </li>
          ))}
        </ul>
      )}
      {error instanceof ApiProblem && error.status === 404 && (
        <p>
          <a href="/">Go to the home page</a>
        </p>
      )}
      {words.retry && onRetry && (
        <button type="button" class="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}
