import { stringify } from 'yaml';

/** The four Temporal server services, in the order the stack starts them (and stops them in reverse). */
export const TEMPORAL_SERVICES = ['history', 'matching', 'frontend', 'worker'] as const;
export type TemporalService = (typeof TEMPORAL_SERVICES)[number];

/** Ports of one service: gRPC and ringpop membership (and the frontend's HTTP API). */
export interface ServicePorts {
  grpc: number;
  membership: number;
  http?: number;
}

/**
 * The ports of the four services from the frontend's gRPC port, as Temporal lays them out by default: frontend 7233,
 * history +1, matching +2, worker +6; membership ports 300 below each; the frontend's HTTP API +10.
 */
export function servicePorts(frontendPort: number): Record<TemporalService, ServicePorts> {
  const at = (offset: number) => ({ grpc: frontendPort + offset, membership: frontendPort + offset - 300 });
  return {
    frontend: { ...at(0), http: frontendPort + 10 },
    history: at(1),
    matching: at(2),
    worker: at(6),
  };
}

/**
 * The highest frontend port the stack can use: Temporal's PostgreSQL schema keeps each service's membership port in
 * a smallint column (cluster_membership.rpc_port), and the highest of them is the worker's, `port + 6 - 300`.
 */
export const MAX_STACK_PORT = 32_767 + 300 - 6;

export interface ServerConfigOptions {
  /** PostgreSQL `host:port`. */
  postgresAddress: string;
  postgresUser: string;
  postgresPassword: string;
  /** @default 'temporal' */
  database?: string;
  /** @default 'temporal_visibility' */
  visibilityDatabase?: string;
  frontendPort: number;
  /** Absolute path of the dynamic config file (the one compose mounts: docker/dynamicconfig.yaml). */
  dynamicConfigFile: string;
  /**
   * History shards: fixed when the `temporal` database is first used (a later change is refused by the server).
   * @default 4 (the default of the config template compose's server image renders)
   */
  numHistoryShards?: number;
  /** @default 'info' (the lines of the dynamic config the services load are at info) */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

/**
 * The Temporal server's config (`<env>.yaml`): PostgreSQL (postgres12 plugin) for both the default store and SQL
 * visibility, the four services on loopback, one cluster, and the dynamic config file polled every 10 s.
 * Metrics and pprof are left out: four processes on one host would fight over one port.
 */
export function renderServerConfig(o: ServerConfigOptions): string {
  const ports = servicePorts(o.frontendPort);
  const sql = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: o.postgresAddress,
      connectProtocol: 'tcp',
      user: o.postgresUser,
      password: o.postgresPassword,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const services = Object.fromEntries(
    Object.entries(ports).map(([name, p]) => [
      name,
      {
        rpc: {
          grpcPort: p.grpc,
          membershipPort: p.membership,
          bindOnLocalHost: true,
          ...(p.http ? { httpPort: p.http } : {}),
        },
      },
    ]),
  );
  const config = {
    log: { stdout: true, level: o.logLevel ?? 'info' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: o.numHistoryShards ?? 4,
      datastores: {
        'postgres-default': sql(o.database ?? 'temporal', 20),
        'postgres-visibility': sql(o.visibilityDatabase ?? 'temporal_visibility', 10),
      },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services,
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `127.0.0.1:${ports.frontend.grpc}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: o.dynamicConfigFile, pollInterval: '10s' },
  };
  return `# Rendered by jobctl stack (src/stack/server-config.ts) at each start: edits here are overwritten.\n${stringify(config)}`;
}
