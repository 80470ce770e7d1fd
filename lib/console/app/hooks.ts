import { useEffect, useRef, useState } from 'preact/hooks';

export interface Loaded<T> {
  readonly data?: T;
  readonly error?: Error;
  readonly loading: boolean;
  /** Loads again now. */
  readonly reload: () => void;
}

/**
 * Loads `load()` when `key` changes and, while `poll(data)` says so, again every `intervalMs`.
 * A slow answer never overwrites a newer one.
 */
export function useLoad<T>(key: string, load: () => Promise<T>, options: { intervalMs?: number; poll?: (data: T) => boolean } = {}): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const pollRef = useRef(options.poll);
  pollRef.current = options.poll;
  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async (): Promise<void> => {
      try {
        const data = await loadRef.current();
        if (cancelled) return;
        setState({ data, loading: false });
        if (options.intervalMs && (pollRef.current?.(data) ?? true)) timer = setTimeout(() => void run(), options.intervalMs);
      } catch (error) {
        if (cancelled) return;
        setState((previous) => ({ ...previous, error: error as Error, loading: false }));
        if (options.intervalMs) timer = setTimeout(() => void run(), options.intervalMs * 2);
      }
    };
    setState((previous) => ({ ...previous, loading: true }));
    void run();
    return () => {
      cancelled = true;
      if (timer) clearTimeout(timer);
    };
  }, [key, tick, options.intervalMs]);
  return { ...state, reload: () => setTick((n) => n + 1) };
}

/** The location hash as a path ("#/volumes/vol-1" → "/volumes/vol-1"), kept up to date. */
export function useHashPath(): string {
  const read = (): string => decodeURI(window.location.hash.replace(/^#/, '')) || '/volumes';
  const [path, setPath] = useState(read);
  useEffect(() => {
    const changed = (): void => setPath(read());
    window.addEventListener('hashchange', changed);
    return () => window.removeEventListener('hashchange', changed);
  }, []);
  return path;
}
