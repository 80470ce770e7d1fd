import { describe } from 'vitest';
import { useLocalCloud } from '../support/local-cloud.js';
import { volumesApiScenarios } from '../scenarios/volumes-api.js';

describe('volumes API on the embedded cloud', () => {
  volumesApiScenarios(useLocalCloud());
});
