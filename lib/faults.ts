/**
 * Failpoints: named places where a test can make the service fail on purpose (a copy task
 * that throws, a process that dies mid-protocol), the way etcd's gofail or FoundationDB's
 * buggify do. Nothing is armed outside tests, and an unarmed failpoint costs a map lookup.
 */
export type FailpointAction = (context: Readonly<Record<string, unknown>>) => void | Promise<void>;

const armed = new Map<string, FailpointAction>();

/** Arms `name`; returns the function that disarms it. */
export function armFailpoint(name: string, action: FailpointAction): () => void {
  armed.set(name, action);
  return () => {
    if (armed.get(name) === action) armed.delete(name);
  };
}

/** Runs the action armed at `name`, if any. */
export async function failpoint(name: string, context: Readonly<Record<string, unknown>> = {}): Promise<void> {
  const action = armed.get(name);
  if (action) await action(context);
}
