import { createAwsClients, type AwsClients } from './aws/clients.js';
import { DynamoDbVolumeRepository } from './aws/dynamodb-volume-repository.js';
import { createHealthProbes } from './aws/health-probes.js';
import { S3VolumeDataStore } from './aws/s3-volume-data-store.js';
import { loadServiceConfig, serviceEnvironment, type ServiceConfig } from './config.js';
import type { HealthProbe } from './volumes/ports.js';
import { VolumeService } from './volumes/volume-service.js';

/** Everything a handler may call, wired to the AWS adapters. */
export interface Services {
  readonly config: ServiceConfig;
  readonly clients: AwsClients;
  readonly volumes: VolumeService;
  readonly healthProbes: readonly HealthProbe[];
}

/** Wires the domain services to the adapters for one config. */
export function createServices(config: ServiceConfig): Services {
  const clients = createAwsClients(config);
  const repository = new DynamoDbVolumeRepository(clients.documents, config.tables.volumes);
  const data = new S3VolumeDataStore(clients.s3, config.sledBuckets);
  return {
    config,
    clients,
    volumes: new VolumeService(repository, data),
    healthProbes: createHealthProbes(clients, config),
  };
}

let current: { fingerprint: string; services: Services } | undefined;

/**
 * The process-wide services, built from the environment on first use (a Lambda cold start).
 * If the environment changes (the embedded cloud restarted on new ports) they are rebuilt.
 */
export function processServices(): Services {
  const config = loadServiceConfig();
  const fingerprint = JSON.stringify(serviceEnvironment(config));
  if (current?.fingerprint !== fingerprint) {
    current?.services.clients.destroy();
    current = { fingerprint, services: createServices(config) };
  }
  return current.services;
}
