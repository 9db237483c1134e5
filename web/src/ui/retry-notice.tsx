import { useEffect, useState } from "preact/hooks";
import { onRetryWaits, type RetryWait } from "../api/retry.ts";

/**
 * While a request waits to be asked again (a 503 with `Retry-After`: web/src/api/retry.ts), says
 * in the API's words what is unavailable and counts down to the next try.
 */
export function RetryNotice() {
  const [waits, setWaits] = useState<readonly RetryWait[]>([]);
  const [now, setNow] = useState(Date.now());
  useEffect(() => onRetryWaits(setWaits), []);
  useEffect(() => {
    if (waits.length === 0) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [waits]);
  const first = waits[0];
  if (!first) return null;
  const seconds = Math.max(0, Math.ceil((first.retryAt - now) / 1000));
  const { title, detail } = first.problem.problem;
  return (
    <div class="notice" role="status" data-testid="retry-notice">
      <p>
        <strong>{title}.</strong> {detail ?? ""}
      </p>
      <p>{seconds > 0 ? `Trying again in ${seconds} s…` : "Trying again…"}</p>
    </div>
  );
}
