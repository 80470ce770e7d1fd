import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { handlerEntry } from '../handlers.js';

/** Properties of {@link HandlerFunction}. */
export interface HandlerFunctionProps {
  /** The file name in functions/ (without .ts); it exports `handler`. */
  readonly handler: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly description?: string;
}

/**
 * ESM output, because the code is ESM ("type": "module") and may use top-level await. With
 * `module` first in mainFields, today's whole dependency graph bundles as ES modules; the banner
 * is insurance: a CommonJS dependency that calls require() for a Node built-in would otherwise
 * fail only at a cold start on AWS ("Dynamic require of ... is not supported").
 */
const ESM_REQUIRE_BANNER = "import { createRequire as __sledsCreateRequire } from 'node:module'; const require = __sledsCreateRequire(import.meta.url);";

/**
 * One Sleds handler as a Lambda function: bundled from functions/<handler>.ts by the local
 * esbuild (no Docker), Node.js 22 on arm64, traced, with its own log group and its own role.
 * The role starts with nothing but writing to that log group (not the broad
 * AWSLambdaBasicExecutionRole); the stack grants the rest from infra/grants.ts.
 */
export class HandlerFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.ONE_MONTH,
      // Logs belong to the compute that wrote them; the stateless stack may be torn down freely.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Sleds ${props.handler}: only what infra/grants.ts lists for it`,
    });
    this.logGroup.grantWrite(this.role);
    this.function = new NodejsFunction(this, 'Function', {
      entry: handlerEntry(props.handler),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memoryMb,
      timeout: Duration.seconds(props.timeoutSeconds),
      description: props.description ?? `Sleds ${props.handler}`,
      role: this.role,
      logGroup: this.logGroup,
      tracing: lambda.Tracing.ACTIVE,
      // Stack traces name the TypeScript sources (the bundle ships its source map).
      environment: { ...props.environment, NODE_OPTIONS: '--enable-source-maps' },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        // Prefer each package's ES module build: it tree-shakes far better.
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // The SDK is bundled, not taken from the runtime: the function runs the SDK version the
        // tests ran (package-lock.json), and @aws-sdk/lib-dynamodb always matches client-dynamodb.
        externalModules: [],
        // esbuild's per-bundle size summary, twenty times over, buries what matters.
        logLevel: LogLevel.WARNING,
      },
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Pinned to Node.js 22: the `node` devDependency runs the tests and the embedded cloud on Node 22, so Lambda runs the major the code is tested on.',
    });
  }
}
