import { describe, expect, it } from 'vitest';
import { ENV, loadCliConfig, loadLocalCloudConfig, loadServiceConfig, serviceEnvironment } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';

const FULL = {
  [ENV.volumesTable]: 'vols',
  [ENV.partitionsTable]: 'parts',
  [ENV.snapshotsTable]: 'snaps',
  [ENV.copyJobsTable]: 'jobs',
  [ENV.snapshotQueueUrl]: 'http://q/snapshot',
  [ENV.sledBuckets]: 'sled-a, sled-b ,sled-c',
  [ENV.flushQueueUrl]: 'http://q/flush',
  [ENV.copyQueueUrl]: 'http://q/copy',
};

describe('config', () => {
  it('reads a complete environment into a frozen object', () => {
    const config = loadServiceConfig({ ...FULL, [ENV.region]: 'eu-west-1', [ENV.awsEndpoint]: 'http://localhost:4566' });
    expect(config.sledBuckets).toEqual(['sled-a', 'sled-b', 'sled-c']);
    expect(config.region).toBe('eu-west-1');
    expect(config.endpoints).toEqual({
      s3: 'http://localhost:4566',
      sqs: 'http://localhost:4566',
      dynamodb: 'http://localhost:4566',
      sfn: 'http://localhost:4566',
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.tables)).toBe(true);
  });

  it('lets a per-service endpoint override the shared one', () => {
    const config = loadServiceConfig({ ...FULL, [ENV.awsEndpoint]: 'http://a:1', [ENV.dynamodbEndpoint]: 'http://b:2' });
    expect(config.endpoints.dynamodb).toBe('http://b:2');
    expect(config.endpoints.s3).toBe('http://a:1');
  });

  it.each(Object.keys(FULL))('fails fast naming %s when it is missing', (name) => {
    const env: Record<string, string> = { ...FULL };
    delete env[name];
    expect(() => loadServiceConfig(env)).toThrow(new ConfigError(`${name} is required`));
  });

  it('reads the optional state machine and sled bandwidth, and refuses a bad bandwidth', () => {
    const config = loadServiceConfig({ ...FULL, [ENV.copyStateMachineArn]: 'arn:aws:states:x', [ENV.sledBandwidth]: '1048576' });
    expect(config.copyStateMachineArn).toBe('arn:aws:states:x');
    expect(config.sledBandwidth).toBe(1048576);
    expect(loadServiceConfig(FULL).sledBandwidth).toBeUndefined();
    expect(() => loadServiceConfig({ ...FULL, [ENV.sledBandwidth]: '-5' })).toThrow(/SLEDS_SLED_BANDWIDTH must be a positive number/);
  });

  it('reads the head lease length: 3000 ms by default, 0 for off, nothing shorter than 400', () => {
    expect(loadServiceConfig(FULL).headLeaseMs).toBe(3000);
    expect(loadServiceConfig({ ...FULL, [ENV.headLeaseMs]: '0' }).headLeaseMs).toBe(0);
    expect(loadServiceConfig({ ...FULL, [ENV.headLeaseMs]: '2500' }).headLeaseMs).toBe(2500);
    expect(() => loadServiceConfig({ ...FULL, [ENV.headLeaseMs]: '200' })).toThrow(/SLEDS_HEAD_LEASE_MS must be 0 \(off\) or at least 400/);
    expect(() => loadServiceConfig({ ...FULL, [ENV.headLeaseMs]: 'soon' })).toThrow(/SLEDS_HEAD_LEASE_MS must be a whole number/);
  });

  it('reads the head cache size: 256 MiB by default, 0 for off, never negative', () => {
    expect(loadServiceConfig(FULL).headCacheMib).toBe(256);
    expect(loadServiceConfig({ ...FULL, [ENV.headCacheMib]: '0' }).headCacheMib).toBe(0);
    expect(() => loadServiceConfig({ ...FULL, [ENV.headCacheMib]: '-1' })).toThrow(/SLEDS_HEAD_CACHE_MIB must be a whole number of at least 0/);
  });

  it('reads the largest note kept in the partitions table: 8 KiB by default, 0 for none, no more than a DynamoDB item holds', () => {
    expect(loadServiceConfig(FULL).tableNoteBytes).toBe(8192);
    expect(loadServiceConfig({ ...FULL, [ENV.tableNoteBytes]: '0' }).tableNoteBytes).toBe(0);
    expect(loadServiceConfig({ ...FULL, [ENV.tableNoteBytes]: '262144' }).tableNoteBytes).toBe(262144);
    expect(() => loadServiceConfig({ ...FULL, [ENV.tableNoteBytes]: '262145' })).toThrow(/SLEDS_TABLE_NOTE_BYTES must be at most 262144/);
    expect(() => loadServiceConfig({ ...FULL, [ENV.tableNoteBytes]: '4k' })).toThrow(/SLEDS_TABLE_NOTE_BYTES must be a whole number/);
    const config = loadServiceConfig({ ...FULL, [ENV.tableNoteBytes]: '4096' });
    expect(loadServiceConfig(serviceEnvironment(config)).tableNoteBytes).toBe(4096);
  });

  it('refuses a malformed endpoint, a duplicate sled and a bad port', () => {
    expect(() => loadServiceConfig({ ...FULL, [ENV.s3Endpoint]: 'not a url' })).toThrow(/SLEDS_S3_ENDPOINT must be a URL/);
    expect(() => loadServiceConfig({ ...FULL, [ENV.sledBuckets]: 'a,a' })).toThrow(/names a bucket twice/);
    expect(() => loadLocalCloudConfig({ [ENV.port]: '70000' })).toThrow(/SLEDS_PORT must be a port/);
  });

  it('round-trips through the environment it renders', () => {
    const config = loadServiceConfig({ ...FULL, [ENV.s3Endpoint]: 'http://s3:1' });
    expect(loadServiceConfig(serviceEnvironment(config))).toEqual(config);
  });

  it('defaults the local cloud and the CLI to port 4510', () => {
    expect(loadLocalCloudConfig({})).toEqual({ port: 4510, dataDir: '.sleds', listenHost: '127.0.0.1', nbdPort: 10809, headCacheMib: 256 });
    expect(loadLocalCloudConfig({ [ENV.headCacheMib]: '0' }).headCacheMib).toBe(0);
    expect(() => loadLocalCloudConfig({ [ENV.headCacheMib]: '-1' })).toThrow(/SLEDS_HEAD_CACHE_MIB must be a whole number of at least 0/);
    expect(loadLocalCloudConfig({ [ENV.nbdPort]: '0' }).nbdPort).toBe(0);
    expect(() => loadLocalCloudConfig({ [ENV.nbdPort]: 'nbd' })).toThrow(/SLEDS_NBD_PORT must be a port number from 0 to 65535, got "nbd"/);
    expect(() => loadLocalCloudConfig({ [ENV.nbdPort]: '65536' })).toThrow(/SLEDS_NBD_PORT must be a port/);
    expect(loadCliConfig({}).endpoint).toBe('http://127.0.0.1:4510');
    expect(loadCliConfig({ [ENV.endpoint]: 'https://api.example.com/prod/' }).endpoint).toBe('https://api.example.com/prod');
  });
});
