/**
 * The JSON the nbtrack REST API (/nbtrack/api/v1) sends, as TypeScript types.
 *
 * The contract is docs/rest-api.yaml (OpenAPI 3): every interface here mirrors one of its schemas,
 * with the same property names, the same required/optional split and the same types.
 * tests/test_sidebar_contract.py checks that; change both sides together.
 */

/** The REST API major version this frontend speaks. */
export const API_VERSION = 1;

/** Every status a run can have (schema RunStatus). */
export type RunStatus = 'running' | 'ok' | 'failed' | 'interrupted' | 'crashed';

/** Every status of a rerun job. */
export type JobStatus = 'queued' | 'running' | 'ok' | 'failed';

export type JSONValue =
  string | number | boolean | null | JSONValue[] | { [key: string]: JSONValue };

/**
 * A latest metric value (schema MetricValue). JSON has no NaN or infinity: an infinity is "inf" or
 * "-inf"; a NaN is null in GET /runs rows and "nan" in a run's detail and in compare.
 */
export type MetricValue = number | 'nan' | 'inf' | '-inf' | null;

/** A value in a metric series (schema SeriesValue): NaN is null, infinities "inf" / "-inf". */
export type SeriesValue = number | 'inf' | '-inf' | null;

/** GET /version. */
export interface IVersion {
  version: string;
  api: number;
  /** the store folder the server reads, null when none is found yet */
  store: string | null;
}

/** GET /changes. */
export interface IChanges {
  token: string;
}

export interface IExperiment {
  name: string;
  runs: number;
  last_start: string | null;
}

/** GET /experiments. */
export interface IExperimentList {
  experiments: IExperiment[];
}

/** One run's summary: a row of GET /runs (without `fields`), a run of GET /compare. */
export interface IRunRow {
  run_id: string;
  short_id: string;
  name: string | null;
  experiment: string;
  status: RunStatus;
  /** cell, script, notebook, sweep, reproduce, or any string a user passed as kind= */
  kind: string;
  start: string;
  end: string | null;
  duration_s: number | null;
  parent_id: string | null;
  /** Who made the run (GET /runs rows). */
  user?: string | null;
  /** When the run was archived (POST /runs/archive), null for a live run. */
  archived?: string | null;
  params: Record<string, JSONValue>;
  metrics: Record<string, MetricValue>;
  tags: Record<string, string>;
}

/** The params, metrics and tags keys of the listed experiment's runs. */
export interface IRunColumns {
  params: string[];
  metrics: string[];
  tags: string[];
}

/** GET /runs (the sidebar never sends `fields`, so every row is a full IRunRow). */
export interface IRunsPage {
  total: number;
  offset: number;
  limit: number;
  token: string;
  columns: IRunColumns;
  /** with `columns=default`: the columns `nbtrack runs` and `%track runs` show (nbtrack.leaderboard) */
  default_columns?: string[];
  runs: IRunRow[];
}

/** GET /values: a few values of every matching run, as columns (what a chart across runs draws). */
export interface IRunValues {
  total: number;
  limit: number;
  token: string;
  run_id: string[];
  name: Array<string | null>;
  /** one list per key asked for, in the order of run_id */
  values: Record<string, JSONValue[]>;
}

export interface IArtifact {
  name: string;
  /** figure, model, file, notebook, text, or any string a user passed as kind= */
  kind: string;
  /** content hash (32 hex), for GET /artifacts/{hash} */
  hash: string;
  size: number;
  media_type: string;
  /** epoch seconds */
  created: number;
  meta: Record<string, JSONValue> | null;
}

/** A DataFrame a run read (inputs) or wrote (outputs). */
export interface IDataRef {
  fingerprint: string;
  dataset: string | null;
  version: number | null;
  name: string | null;
  rows: number | null;
  columns: number | null;
}

/** Why a run failed; notebook runs also name the failing cell. */
export interface IRunError {
  type: string;
  message: string;
  traceback: string;
  execution_count?: number | null;
  cell_index?: number | null;
  cell_source?: string;
  [key: string]: JSONValue | undefined;
}

/** GET /runs/{run_id} (RunRecord.to_dict()). */
export interface IRunDetail extends IRunRow {
  source_path: string | null;
  source_cell: string | null;
  execution_count: number | null;
  code: string | null;
  children: string[];
  host: string | null;
  pid: number | null;
  error: IRunError | null;
  latest: Record<string, MetricValue>;
  /** metric -> [[step, value, time], ...] */
  metric_series: Record<string, Array<[number, SeriesValue, number]>>;
  artifacts: IArtifact[];
  environment: Record<string, JSONValue>;
  inputs: IDataRef[];
  outputs: IDataRef[];
}

export interface ICompareRow {
  key: string;
  /** one value per run, in the order of ICompare.runs; null when the run lacks the key */
  values: JSONValue[];
  differs: boolean;
}

/** GET /compare. */
export interface ICompare {
  runs: IRunRow[];
  params: ICompareRow[];
  metrics: ICompareRow[];
  /** metric -> run_id -> [[step, value], ...] */
  series: Record<string, Record<string, Array<[number, SeriesValue]>>>;
}

/** One dataset of GET /datasets. */
export interface IDatasetSummary {
  name: string;
  versions: number;
  latest: number;
  rows: number;
  columns: number;
  bytes: number;
  created: string;
  updated: string;
}

/** GET /datasets. */
export interface IDatasetList {
  datasets: IDatasetSummary[];
}

export interface IDatasetVersion {
  name: string;
  version: number;
  fingerprint: string;
  rows: number;
  columns: number;
  /** epoch seconds */
  created: number;
  bytes_added: number;
  bytes_stored: number;
  storage: 'full' | 'delta';
  parent: number | null;
  key: JSONValue[] | null;
  message: string | null;
  run_id: string | null;
}

/** GET /datasets/{name}/versions. */
export interface IDatasetVersionList {
  versions: IDatasetVersion[];
}

export interface IDtypeChange {
  column: string;
  before: string;
  after: string;
}

export interface IDiffSchema {
  added: string[];
  removed: string[];
  dtype_changes: IDtypeChange[];
}

/** A column's statistics in version a and in version b (null where the column is absent). */
export interface IColumnStatsPair {
  a: Record<string, JSONValue> | null;
  b: Record<string, JSONValue> | null;
}

/** GET /datasets/{name}/diff. */
export interface IDatasetDiff {
  name: string;
  a: number;
  b: number;
  key: string[] | null;
  schema: IDiffSchema;
  rows: Record<string, JSONValue>;
  stats: Record<string, IColumnStatsPair>;
  drift: Record<string, Record<string, JSONValue>>;
}

/** PATCH /runs/{run_id}: the run's tags and note after the change. */
export interface IRunEdited {
  run_id: string;
  tags: Record<string, string>;
  note: string | null;
}

/** POST /runs/archive: the ids archived by the call (child runs included). */
export interface IRunArchived {
  archived: string[];
}

/** POST /runs/restore. */
export interface IRunRestored {
  restored: string[];
}

/** POST /runs/delete. */
export interface IRunDeleted {
  deleted: string[];
}

/** POST /runs/{run_id}/rerun (202). */
export interface IRerunAccepted {
  job_id: string;
}

/** GET /jobs/{job_id}. */
export interface IJob {
  job_id: string;
  source_run_id: string;
  status: JobStatus;
  progress: number;
  run_id: string | null;
  error: string | null;
  created: number;
  finished: number | null;
}

/** A node of GET /lineage: a run, a dataset version or unversioned data (a fingerprint). */
export interface ILineageNode {
  /** "run:<run_id>", "version:<name>@<n>" or "data:<fingerprint>" */
  id: string;
  kind: 'run' | 'version' | 'data';
  label: string;
  run_id?: string;
  name?: string | null;
  status?: string;
  /** epoch seconds */
  start?: number | null;
  dataset?: string;
  version?: number;
  fingerprint?: string | null;
  rows?: number | null;
  columns?: number | null;
  [key: string]: JSONValue | undefined;
}

/** An edge of GET /lineage, in the direction data flows. */
export interface ILineageEdge {
  source: string;
  target: string;
  kind: 'input' | 'output' | 'parent';
}

/** GET /lineage. */
export interface ILineage {
  root: string;
  nodes: ILineageNode[];
  edges: ILineageEdge[];
}

/** A registered model (GET /models, GET /models/{name}). */
export interface IModel {
  name: string;
  description: string | null;
  created: string;
  versions: number;
  latest: number | null;
  updated: string | null;
  /** alias -> version */
  aliases: Record<string, number>;
}

/** GET /models. */
export interface IModelList {
  models: IModel[];
}

/** A DataFrame a model version was trained on. */
export interface IModelData extends IDataRef {
  /** the run that read it */
  run_id: string;
}

/** A model version's run as it was when the version was registered. */
export interface IModelLineage {
  run_id: string;
  run_name: string | null;
  experiment: string;
  status: string;
  parent_id?: string | null;
  source_path?: string | null;
  source_cell?: string | null;
  code: string;
  code_truncated?: boolean;
  params: Record<string, JSONValue>;
  metrics: Record<string, number | null>;
  tags: Record<string, string>;
  data: IModelData[];
  environment: Record<string, JSONValue>;
  model: Record<string, JSONValue>;
}

/** One version of a model. */
export interface IModelVersion {
  model: string;
  version: number;
  run_id: string;
  artifact: string;
  blob: string;
  size: number;
  media_type: string;
  created: string;
  created_by: string | null;
  description: string | null;
  aliases: string[];
  lineage: IModelLineage;
}

/** One move of an alias: who moved it, when, from which version to which, and why. */
export interface IAliasMove {
  model: string;
  alias: string;
  /** null when the alias was new */
  from_version: number | null;
  /** null when the alias was removed */
  to_version: number | null;
  moved: string;
  user: string | null;
  host: string | null;
  reason: string | null;
}

/** GET /models/{name}: versions newest first. */
export interface IModelDetail {
  model: IModel;
  versions: IModelVersion[];
  history: IAliasMove[];
}

/** Text shown when the server extension is missing or speaks another API. */
export const SERVER_EXTENSION_HELP =
  'The nbtrack server extension is not enabled. Run `pip install .` in the nbtrack checkout, then ' +
  '`jupyter server extension enable nbtrack`, and restart JupyterLab ' +
  '(check with `jupyter server extension list`).';
