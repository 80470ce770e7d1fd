import { afterAll, beforeAll, describe } from 'vitest';
import { startLocalCloud, type LocalCloud } from '../../lib/local/local-cloud.js';
import { volumesApiScenarios } from '../scenarios/volumes-api.js';
import { LOCALSTACK_IMAGE, dockerAnswers } from '../support/docker.js';

const docker = await dockerAnswers();

/**
 * The same scenarios as test/integration, with the handlers talking to LocalStack instead of
 * the embedded emulators. Skipped (and reported as skipped) where no container engine answers.
 */
describe.skipIf(!docker)(`volumes API on LocalStack (${LOCALSTACK_IMAGE})`, () => {
  let cloud: LocalCloud | undefined;
  let stopContainer: (() => Promise<unknown>) | undefined;

  beforeAll(async () => {
    const { LocalstackContainer } = await import('@testcontainers/localstack');
    const token = process.env.LOCALSTACK_AUTH_TOKEN;
    const container = await new LocalstackContainer(LOCALSTACK_IMAGE)
      .withEnvironment(token ? { LOCALSTACK_AUTH_TOKEN: token } : {})
      .start();
    stopContainer = () => container.stop();
    cloud = await startLocalCloud({ port: 0, sledCount: 4, awsEndpoint: container.getConnectionUri() });
  }, 180_000);

  afterAll(async () => {
    await cloud?.stop();
    await stopContainer?.();
  });

  volumesApiScenarios(() => {
    if (!cloud) throw new Error('LocalStack did not start');
    return cloud;
  });
});
