/**
 * The alliance's reference population (DESIGN.md "The match protocol", step 2): models known to be unrelated
 * to every member, registered by the secretariat in the hub's database (`hub_reference_models`), each with the
 * endpoint the member node reaches it at. The hub — never the member — chooses each session's panel from it:
 * the models of one population ordered by SHA-256(session id || model id), the suspect itself excluded, so
 * the choice is fixed by the session id the hub draws before any answer and anyone can recompute it.
 */
import { createHash } from "node:crypto";
import type { HubDatabase, Store } from "@lineage/store";
import { HubError } from "../ingest/hub-error.js";

/** A registered reference model. */
export interface ReferenceModel {
  readonly modelId: string;
  readonly populationId: string;
  readonly baseUrl: string;
  readonly modelName: string;
}

/** Panel sizes the SessionOpened admission accepts. */
export const MIN_PANEL = 2;
export const MAX_PANEL = 64;

const ID_RE = /^[\x21-\x7e]{1,256}$/;

function checkModel(m: ReferenceModel): void {
  if (!ID_RE.test(m.modelId))
    throw new HubError("invalid_argument", "model_id must be 1..256 printable characters");
  if (!/^[\x21-\x7e]{1,128}$/.test(m.populationId))
    throw new HubError("invalid_argument", "population_id must be 1..128 printable characters");
  if (m.modelName.length < 1 || m.modelName.length > 256)
    throw new HubError("invalid_argument", "model_name must be 1..256 characters");
  let url: URL;
  try {
    url = new URL(m.baseUrl);
  } catch {
    throw new HubError("invalid_argument", "base_url is not a URL");
  }
  if (m.baseUrl.length > 2048 || (url.protocol !== "https:" && url.protocol !== "http:"))
    throw new HubError("invalid_argument", "base_url must be an http(s) URL of at most 2048 characters");
}

/** The reference population over the hub's database. */
export class ReferencePopulation {
  readonly #store: Store<HubDatabase>;

  constructor(store: Store<HubDatabase>) {
    this.#store = store;
  }

  /** Registers a model (idempotent for the same model; `already_exists` for a different one under its id). */
  async add(m: ReferenceModel): Promise<void> {
    checkModel(m);
    const prior = await this.#store.db
      .selectFrom("hub_reference_models")
      .selectAll()
      .where("model_id", "=", m.modelId)
      .executeTakeFirst();
    if (prior !== undefined) {
      if (
        prior.population_id === m.populationId &&
        prior.base_url === m.baseUrl &&
        prior.model_name === m.modelName
      )
        return;
      throw new HubError("already_exists", `reference model ${m.modelId} is registered differently`);
    }
    await this.#store.db
      .insertInto("hub_reference_models")
      .values({
        model_id: m.modelId,
        population_id: m.populationId,
        base_url: m.baseUrl,
        model_name: m.modelName,
      })
      .onConflict((oc) => oc.column("model_id").doNothing())
      .execute();
  }

  /** The models of one population, by id. */
  async list(populationId: string): Promise<ReferenceModel[]> {
    const rows = await this.#store.db
      .selectFrom("hub_reference_models")
      .selectAll()
      .where("population_id", "=", populationId)
      .orderBy("model_id")
      .execute();
    return rows.map((r) => ({
      modelId: r.model_id,
      populationId: r.population_id,
      baseUrl: r.base_url,
      modelName: r.model_name,
    }));
  }

  /**
   * The panel of a session (module header). Throws `failed_precondition` when the population has fewer
   * than {@link MIN_PANEL} models besides the suspect.
   */
  async choosePanel(input: {
    readonly populationId: string;
    readonly sessionId: string;
    readonly excludeModelIds: readonly string[];
    readonly size: number;
  }): Promise<string[]> {
    if (!Number.isInteger(input.size) || input.size < MIN_PANEL || input.size > MAX_PANEL)
      throw new HubError("invalid_argument", `panel size must be in ${MIN_PANEL}..${MAX_PANEL}`);
    const exclude = new Set(input.excludeModelIds);
    const models = (await this.list(input.populationId)).filter((m) => !exclude.has(m.modelId));
    if (models.length < MIN_PANEL)
      throw new HubError(
        "failed_precondition",
        `reference population ${input.populationId} has ${models.length} usable models; a panel needs ${MIN_PANEL}`,
      );
    const rank = (id: string) =>
      createHash("sha256").update(`lineage-panel/v1\n${input.sessionId}\n${id}`).digest("hex");
    return models
      .map((m) => ({ id: m.modelId, r: rank(m.modelId) }))
      .sort((a, b) => (a.r < b.r ? -1 : a.r > b.r ? 1 : 0))
      .slice(0, input.size)
      .map((x) => x.id);
  }
}
