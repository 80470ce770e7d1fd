import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { RouteDefinition } from '../../lib/api/routes.js';

/** Requests per second and burst, for the stage or one method. */
export interface Throttle {
  readonly rateLimit: number;
  readonly burstLimit: number;
}

/** Properties of {@link SledsRestApi}. */
export interface SledsRestApiProps {
  readonly routes: readonly RouteDefinition[];
  /** The function that serves a route's `handler`. */
  readonly functionFor: (handler: string) => IFunction;
  readonly binaryMediaTypes: readonly string[];
  /** Query parameters the gateway requires, by handler; the handler validates their values. */
  readonly requiredQuery?: Readonly<Record<string, readonly string[]>>;
  /** The stage's default throttle. */
  readonly throttle: Throttle;
  /** Tighter throttles for costly routes, by handler. */
  readonly methodThrottles?: Readonly<Record<string, Throttle>>;
  readonly stageName?: string;
}

/** The `{name}` parameters of a resource path. */
export function pathParameters(resource: string): string[] {
  return [...resource.matchAll(/\{(\w+)\}/g)].map((match) => match[1] as string);
}

/**
 * The gateway's own errors in the handlers' shape, `{"error": {"code", "message"}}`, so a
 * client sees one format whether the gateway or a handler refused it.
 */
const ERROR_BODY = (code: string, message: string) => `{"error":{"code":"${code}","message":${message}}}`;

/**
 * The Sleds REST API: a method for each route in ROUTES, each a Lambda proxy to its handler,
 * IAM (SigV4) authorization on every method, required parameters checked before a handler
 * runs, stage and per-method throttling, binary bodies for the data routes, access and error
 * logs, and X-Ray.
 */
export class SledsRestApi extends Construct {
  readonly api: apigateway.RestApi;
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: SledsRestApiProps) {
    super(scope, id);
    const stageName = props.stageName ?? 'v1';
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const methodOptions: Record<string, apigateway.MethodDeploymentOptions> = {};
    for (const route of props.routes) {
      const throttle = props.methodThrottles?.[route.handler];
      if (throttle) {
        methodOptions[`${route.resource}/${route.method}`] = {
          throttlingRateLimit: throttle.rateLimit,
          throttlingBurstLimit: throttle.burstLimit,
        };
      }
    }
    this.api = new apigateway.RestApi(this, 'Api', {
      description: 'Sleds: serverless block volumes',
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      binaryMediaTypes: [...props.binaryMediaTypes],
      defaultMethodOptions: { authorizationType: apigateway.AuthorizationType.IAM },
      // Stage logging needs the account's API Gateway CloudWatch role; this sets it.
      cloudWatchRole: true,
      failOnWarnings: true,
      deployOptions: {
        stageName,
        throttlingRateLimit: props.throttle.rateLimit,
        throttlingBurstLimit: props.throttle.burstLimit,
        methodOptions,
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        // Never log request or response bodies: they are volume data.
        dataTraceEnabled: false,
        metricsEnabled: true,
        tracingEnabled: true,
        accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
      },
    });
    // Body validation is on, but no method has a body model: the handlers validate bodies
    // with zod and say exactly what is wrong, the same answer the embedded cloud gives.
    const validator = this.api.addRequestValidator('Validator', {
      validateRequestParameters: true,
      validateRequestBody: true,
    });
    for (const route of props.routes) {
      const requestParameters: Record<string, boolean> = {};
      for (const name of pathParameters(route.resource)) requestParameters[`method.request.path.${name}`] = true;
      for (const name of props.requiredQuery?.[route.handler] ?? []) requestParameters[`method.request.querystring.${name}`] = true;
      this.api.root.resourceForPath(route.resource).addMethod(
        route.method,
        // No test-invoke permission: the console's test call bypasses IAM authorization.
        new apigateway.LambdaIntegration(props.functionFor(route.handler), { allowTestInvoke: false }),
        { operationName: route.handler, requestValidator: validator, requestParameters },
      );
    }
    this.gatewayResponses();
    const acknowledge = Validations.of(this.api);
    acknowledge.acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason: 'The account-level API Gateway logging role uses AmazonAPIGatewayPushToCloudWatchLogs, the policy AWS provides for exactly that role.',
    });
    acknowledge.acknowledge({
      id: 'AwsSolutions-APIG3',
      reason: 'Every method requires SigV4-signed IAM credentials and the stage is throttled; a WAF web ACL would add cost without covering a threat IAM does not already stop.',
    });
    acknowledge.acknowledge({
      id: 'AwsSolutions-COG4',
      reason: 'Callers are AWS principals (services, operators, the CLI with AWS credentials), authorized with IAM; there are no end users to keep in a Cognito user pool.',
    });
  }

  private gatewayResponses(): void {
    const respond = (id: string, type: apigateway.ResponseType, code: string, message: string, statusCode?: string) =>
      this.api.addGatewayResponse(id, {
        type,
        ...(statusCode ? { statusCode } : {}),
        templates: { 'application/json': ERROR_BODY(code, message) },
      });
    respond('BadParameters', apigateway.ResponseType.BAD_REQUEST_PARAMETERS, 'ValidationError', '"$context.error.validationErrorString"');
    respond('TooLarge', apigateway.ResponseType.REQUEST_TOO_LARGE, 'PayloadTooLarge', '$context.error.messageString', '413');
    respond('Throttled', apigateway.ResponseType.THROTTLED, 'Throttled', '$context.error.messageString', '429');
    // Everything else (missing or invalid signature, access denied, gateway faults) keeps the
    // gateway's status and names its own response type as the code.
    respond('Default4xx', apigateway.ResponseType.DEFAULT_4XX, '$context.error.responseType', '$context.error.messageString');
    respond('Default5xx', apigateway.ResponseType.DEFAULT_5XX, '$context.error.responseType', '$context.error.messageString');
  }
}
