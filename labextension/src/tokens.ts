/**
 * Shared interfaces for the nbtrack REST API (/nbtrack/api/v1, see CONTRACT.md).
 * Everything here mirrors the JSON the server extension returns.
 */

/** The REST API major version this frontend speaks. */
export const API_VERSION = 1;

export type RunStatus = 'running' | 'ok' | 'failed' | 'interrupted' | 'crashed';

export type JSONValue =
  | string
  | number
  | boolean
  | null
  | JSONValue[]
  | { [key: string]: JSONValue };

export interface IVersion {
  version: string;
  api: number;
}

export interface IChanges {
  token: string;
}

export interface IExperiment {
  name: string;
  runs: number;
  last_start: string | null;
}

/** One row of GET /runs (nbtrack.list_runs). */
export interface IRunRow {
  run_id: string;
  short_id: string;
  name: string | null;
  experiment: string | null;
  status: RunStatus;
  kind: string;
  start: string | null;
  end: string | null;
  duration_s: number | null;
  parent_id: string | null;
  params: Record<string, JSONValue>;
  metrics: Record<string, number | null>;
  tags: Record<string, string>;
}

export interface IRunsPage {
  total: number;
  offset: number;
  limit: number;
  token: string;
  columns: { params: string[]; metrics: string[]; tags: string[] };
  runs: IRunRow[];
}

export interface IArtifact {
  name: string;
  kind: 'figure' | 'model' | 'file' | 'notebook' | 'text' | string;
  /** content hash (32 hex); older servers called it `blob` */
  hash?: string;
  blob?: string;
  size: number | null;
  media_type: string | null;
  created?: number | string | null;
  meta?: Record<string, JSONValue> | null;
}

export interface IDataRef {
  direction?: 'input' | 'output';
  fingerprint?: string;
  dataset?: string | null;
  version?: number | null;
  name?: string | null;
  rows?: number | null;
  columns?: number | JSONValue | null;
  [key: string]: JSONValue | undefined;
}

/** GET /runs/{id} (RunRecord.to_dict()). Optional fields are shown when present. */
export interface IRunDetail extends IRunRow {
  code?: string | null;
  source_path?: string | null;
  source_cell?: JSONValue;
  execution_count?: number | null;
  host?: string | null;
  pid?: number | null;
  env_hash?: string | null;
  children?: string[];
  error?: { type?: string; message?: string; traceback?: string | string[] } | null;
  latest?: Record<string, JSONValue>;
  metric_series?: Record<string, Array<[number | null, number | null, number | null]>>;
  artifacts?: IArtifact[];
  environment?: Record<string, JSONValue> | null;
  inputs?: IDataRef[];
  outputs?: IDataRef[];
  output_notebook?: string | null;
  [key: string]: unknown;
}

export interface ICompareRow {
  key: string;
  values: JSONValue[];
  differs: boolean;
}

export interface ICompare {
  runs: IRunRow[];
  params: ICompareRow[];
  metrics: ICompareRow[];
  series: Record<string, Record<string, Array<[number | null, number | null]>>>;
}

export interface IDatasetSummary {
  name: string;
  [key: string]: JSONValue | undefined;
}

export interface IDatasetVersion {
  version: number;
  [key: string]: JSONValue | undefined;
}

export interface IJob {
  status: string;
  progress?: number | null;
  run_id?: string | null;
  error?: string | { message?: string } | null;
}

/** Text shown when the server extension is missing or speaks another API. */
export const SERVER_EXTENSION_HELP =
  'The nbtrack server extension is not enabled. Run `pip install nbtrack`, then ' +
  '`jupyter server extension enable nbtrack`, and restart JupyterLab ' +
  '(check with `jupyter server extension list`).';
