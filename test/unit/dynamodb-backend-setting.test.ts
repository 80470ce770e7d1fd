import { describe, expect, it } from 'vitest';
import { ENV, loadDynamodbBackend } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';

describe('SLEDS_DYNAMODB', () => {
  it('is dynalite when unset or blank', () => {
    expect(loadDynamodbBackend({})).toBe('dynalite');
    expect(loadDynamodbBackend({ [ENV.dynamodb]: '  ' })).toBe('dynalite');
  });

  it('names either backend', () => {
    expect(loadDynamodbBackend({ [ENV.dynamodb]: 'dynalite' })).toBe('dynalite');
    expect(loadDynamodbBackend({ [ENV.dynamodb]: ' dynamodb-local ' })).toBe('dynamodb-local');
  });

  it('refuses anything else, naming the choices', () => {
    expect(() => loadDynamodbBackend({ [ENV.dynamodb]: 'DynamoDBLocal' })).toThrow(ConfigError);
    expect(() => loadDynamodbBackend({ [ENV.dynamodb]: 'localstack' })).toThrow(
      'SLEDS_DYNAMODB must be one of dynalite, dynamodb-local, got "localstack"',
    );
  });
});
