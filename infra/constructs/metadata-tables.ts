import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLES, type KeyAttribute, type TableDefinition } from '../../lib/resources.js';

/** The name of a metadata table, as lib/resources.ts keys it. */
export type TableName = keyof typeof TABLES;

const ATTRIBUTE_TYPES: Readonly<Record<KeyAttribute['type'], dynamodb.AttributeType>> = {
  S: dynamodb.AttributeType.STRING,
  N: dynamodb.AttributeType.NUMBER,
};

function attribute(key: KeyAttribute): dynamodb.Attribute {
  return { name: key.name, type: ATTRIBUTE_TYPES[key.type] };
}

/** The DynamoDB tables of lib/resources.ts TABLES: volume metadata and head-node replicas. */
export class MetadataTables extends Construct {
  /** One table per entry of TABLES, under the same key. */
  readonly tables: Readonly<Record<TableName, dynamodb.Table>>;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // Built from TABLES rather than listed, so a table added there cannot be forgotten here.
    const names = Object.keys(TABLES) as TableName[];
    this.tables = Object.freeze(
      Object.fromEntries(names.map((name) => [name, this.table(TABLES[name])])) as Record<TableName, dynamodb.Table>,
    );
  }

  private table(definition: TableDefinition): dynamodb.Table {
    const table = new dynamodb.Table(this, definition.id, {
      partitionKey: attribute(definition.partitionKey),
      sortKey: definition.sortKey ? attribute(definition.sortKey) : undefined,
      // Traffic follows volume I/O bursts, which provisioned capacity would throttle or overpay for.
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      // The partitions table holds the only copy of acknowledged writes not yet flushed to a sled.
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
    });
    for (const index of definition.indexes ?? []) {
      table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: attribute(index.partitionKey),
        sortKey: index.sortKey ? attribute(index.sortKey) : undefined,
        // KEYS_ONLY as TABLES documents and the embedded cloud creates it, so an index query that
        // works locally returns the same attributes on AWS.
        projectionType: dynamodb.ProjectionType.KEYS_ONLY,
      });
    }
    return table;
  }
}
