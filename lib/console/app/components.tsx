import type { ComponentChildren } from 'preact';

/** A state as a coloured badge; the word carries the meaning, the colour only helps. */
export function StateBadge({ state }: { state: string }) {
  return <span class={`badge badge-${state}`}>{state}</span>;
}

/**
 * An error from the API or the network, announced to screen readers. A 403 is the API
 * refusing the console's credentials (SigV4), so it says so and what to do.
 */
export function ErrorNote({ error, title }: { error: Error | undefined; title?: string }) {
  if (!error) return null;
  const { code, status } = error as { code?: string; status?: number };
  return (
    <div class="error" role="alert" data-status={status}>
      <strong>{title ?? 'Something went wrong'}</strong>
      {code ? <code> {code}</code> : null}: {error.message}
      {status === 403 ? (
        <p class="error-hint" data-hint="forbidden">
          403 Forbidden: the Sleds API refused this console's request. It requires SigV4-signed requests: start the console with credentials that may call
          it (<code>sleds console --profile NAME --region REGION</code>, or <code>AWS_ACCESS_KEY_ID</code> and <code>AWS_SECRET_ACCESS_KEY</code>; for the
          embedded cloud with <code>SLEDS_API_AUTH=sigv4</code>, its local test key). Nothing was changed.
        </p>
      ) : null}
    </div>
  );
}

/** A progress bar with its value in words. */
export function Progress({ value, max, label }: { value: number; max: number; label: string }) {
  return (
    <div class="progress-row">
      <progress value={max > 0 ? value : 0} max={max > 0 ? max : 1} aria-label={label} />
      <span>{max > 0 ? `${Math.round((value / max) * 1000) / 10}%` : '—'}</span>
    </div>
  );
}

export function Page({ title, children, actions }: { title: ComponentChildren; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section aria-labelledby="page-title">
      <header class="page-header">
        <h1 id="page-title">{title}</h1>
        {actions ? <div class="actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

/** A definition list from label/value pairs. */
export function Facts({ items }: { items: ReadonlyArray<readonly [string, ComponentChildren]> }) {
  return (
    <dl class="facts">
      {items.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
