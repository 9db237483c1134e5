import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { Task } from "../api/words.ts";
import { ErrorNotice } from "./error-notice.tsx";

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * Pages of `load(cursor)` that keep coming as the viewer scrolls (an IntersectionObserver on the
 * end of the list), with a "Show more" button for keyboards and for when the observer cannot see.
 * A new `key` starts over.
 */
export function useInfinitePages<T>(load: (cursor: string | null, signal: AbortSignal) => Promise<Page<T>>, key: string) {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const controller = useRef<AbortController | null>(null);
  const loadRef = useRef(load);
  loadRef.current = load;
  const state = useRef({ cursor: null as string | null, done: false, loading: false });

  const more = useCallback(() => {
    if (state.current.loading || state.current.done) return;
    state.current.loading = true;
    setLoading(true);
    setError(null);
    const signal = controller.current?.signal ?? new AbortController().signal;
    loadRef.current(state.current.cursor, signal).then(
      (page) => {
        if (signal.aborted) return;
        state.current = { cursor: page.nextCursor, done: page.nextCursor === null, loading: false };
        setItems((previous) => [...previous, ...page.items]);
        setCursor(page.nextCursor);
        setDone(page.nextCursor === null);
        setLoading(false);
      },
      (failure: unknown) => {
        if (signal.aborted) return;
        state.current.loading = false;
        setError(failure);
        setLoading(false);
      },
    );
  }, []);

  // A new key is what starts the list over.
  useEffect(() => {
    controller.current?.abort();
    controller.current = new AbortController();
    state.current = { cursor: null, done: false, loading: false };
    setItems([]);
    setCursor(null);
    setDone(false);
    more();
    return () => controller.current?.abort();
  }, [key, more]);

  return { items, cursor, done, loading, error, more };
}

/** The end of a list: loads the next page when it scrolls into view (or on click). */
export function LoadMore(props: {
  cursor?: string | null;
  done: boolean;
  loading: boolean;
  error: unknown;
  more: () => void;
  label?: string;
  task: Task;
}) {
  const sentinel = useRef<HTMLDivElement>(null);
  const { more, done, loading, error } = props;
  useEffect(() => {
    const element = sentinel.current;
    if (!element || done || error) return;
    const observer = new IntersectionObserver((entries) => entries.some((entry) => entry.isIntersecting) && more(), {
      rootMargin: "400px",
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, [more, done, error, loading]);
  return (
    <div ref={sentinel} class="load-more">
      <ErrorNotice error={error} task={props.task} onRetry={more} />
      {!done && !error && props.cursor !== null && (
        <button type="button" class="button button-quiet" onClick={more} disabled={loading}>
          {loading ? "Loading…" : (props.label ?? "Show more")}
        </button>
      )}
    </div>
  );
}
