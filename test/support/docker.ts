/** LocalStack image the suite runs. Images after 4.14.0 need LOCALSTACK_AUTH_TOKEN. */
export const LOCALSTACK_IMAGE = process.env.SLEDS_LOCALSTACK_IMAGE ?? 'localstack/localstack:4.14.0';

/** How long to wait for a container engine to answer before the suite is skipped. */
export const DOCKER_PROBE_MS = 2000;

/**
 * True when a container engine answers within the probe time. A DOCKER_HOST that accepts
 * and never answers would hang testcontainers forever, so the probe races a timer.
 */
export async function dockerAnswers(timeoutMs = DOCKER_PROBE_MS): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
    timer.unref();
  });
  const probe = (async () => {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  })().catch(() => false);
  try {
    return await Promise.race([probe, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
