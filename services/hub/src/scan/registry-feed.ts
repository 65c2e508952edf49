/**
 * The registry feed adapter (issue 10 "Release scanning"): a JSON listing of releases, as a Hugging Face or
 * ModelScope poller would produce it —
 *   {"feed": "hf-new", "releases": [{"registry": "huggingface", "repo": "org/model", "revision": "<commit>",
 *     "weight_digest": "<64 hex>", "endpoint": {"base_url": "https://...", "model_name": "...",
 *     "api": "openai_chat" | "openai_completions", "logprobs": true}}]}
 * — parsed strictly (untrusted input: sizes and counts bounded, each bad entry named by its position), then
 * handed to the scanner. A release the hub can probe is logged as its inference endpoint (what the members
 * query in a session); one without an endpoint is logged as the registry release itself and waits for one.
 * SuspectRef holds one target, so a probed release's repo/revision are not in its sighting (see README).
 */
import { create } from "@bufbuild/protobuf";
import { EndpointApi, type SuspectRef, SuspectRefSchema, SuspectSource } from "@lineage/api";
import { HubError } from "../ingest/hub-error.js";
import { checkSuspect, type ReleaseScanner, type ScanResult } from "./release-scanner.js";

/** Largest feed document read. */
export const MAX_FEED_BYTES = 4 << 20;
/** Most releases in one listing. */
export const MAX_FEED_RELEASES = 10_000;

/** One parsed feed entry. */
export interface FeedRelease {
  readonly suspect: SuspectRef;
}

function str(v: unknown, what: string, max: number, optional = false): string {
  if (v === undefined && optional) return "";
  if (typeof v !== "string" || v.length > max)
    throw new HubError("invalid_argument", `${what} must be a string of at most ${max} characters`);
  return v;
}

/** Parses a feed listing (module header); throws HubError `invalid_argument` naming the bad field. */
export function parseRegistryFeed(text: string): { readonly feed: string; readonly releases: FeedRelease[] } {
  if (text.length > MAX_FEED_BYTES)
    throw new HubError("invalid_argument", `the feed exceeds ${MAX_FEED_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new HubError("invalid_argument", "the feed is not JSON", { cause });
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    throw new HubError("invalid_argument", "the feed must be an object with a releases array");
  const d = doc as Record<string, unknown>;
  const feed = str(d.feed, "feed", 64);
  if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(feed))
    throw new HubError("invalid_argument", "feed must be 1..64 of [a-z0-9._-]");
  if (!Array.isArray(d.releases)) throw new HubError("invalid_argument", "releases must be an array");
  if (d.releases.length > MAX_FEED_RELEASES)
    throw new HubError("invalid_argument", `releases: at most ${MAX_FEED_RELEASES}`);
  const releases = d.releases.map((r: unknown, i: number): FeedRelease => {
    const at = `releases[${i}]`;
    if (typeof r !== "object" || r === null || Array.isArray(r))
      throw new HubError("invalid_argument", `${at} must be an object`);
    const e = r as Record<string, unknown>;
    const digestHex = str(e.weight_digest, `${at}.weight_digest`, 64, true);
    if (digestHex !== "" && !/^[0-9a-f]{64}$/.test(digestHex))
      throw new HubError("invalid_argument", `${at}.weight_digest must be 64 lowercase hex characters`);
    const release = {
      registry: str(e.registry, `${at}.registry`, 64),
      repo: str(e.repo, `${at}.repo`, 256),
      revision: str(e.revision, `${at}.revision`, 128),
      weightDigest: digestHex === "" ? new Uint8Array() : Uint8Array.from(Buffer.from(digestHex, "hex")),
    };
    let suspect: SuspectRef;
    if (e.endpoint !== undefined) {
      if (typeof e.endpoint !== "object" || e.endpoint === null)
        throw new HubError("invalid_argument", `${at}.endpoint must be an object`);
      const ep = e.endpoint as Record<string, unknown>;
      const api = str(ep.api, `${at}.endpoint.api`, 32, true) || "openai_chat";
      if (api !== "openai_chat" && api !== "openai_completions")
        throw new HubError(
          "invalid_argument",
          `${at}.endpoint.api must be openai_chat or openai_completions`,
        );
      if (ep.logprobs !== undefined && typeof ep.logprobs !== "boolean")
        throw new HubError("invalid_argument", `${at}.endpoint.logprobs must be a boolean`);
      suspect = create(SuspectRefSchema, {
        target: {
          case: "endpoint",
          value: {
            baseUrl: str(ep.base_url, `${at}.endpoint.base_url`, 2048),
            modelName: str(ep.model_name, `${at}.endpoint.model_name`, 256),
            api: api === "openai_chat" ? EndpointApi.OPENAI_CHAT : EndpointApi.OPENAI_COMPLETIONS,
            logprobs: ep.logprobs === true,
          },
        },
      });
    } else {
      suspect = create(SuspectRefSchema, { target: { case: "release", value: release } });
    }
    try {
      checkSuspect(suspect);
      // The release's own fields are checked even when the endpoint is what gets logged.
      checkSuspect(create(SuspectRefSchema, { target: { case: "release", value: release } }));
    } catch (err) {
      throw new HubError("invalid_argument", `${at}: ${(err as Error).message}`, { cause: err });
    }
    return { suspect };
  });
  return { feed, releases };
}

/** Submits every release of a listing; returns the new suspects' ids and their scans. */
export async function submitFeed(
  scanner: ReleaseScanner,
  text: string,
): Promise<{
  readonly known: string[];
  readonly scans: { readonly suspectId: string; readonly scan: Promise<ScanResult> }[];
}> {
  const { releases } = parseRegistryFeed(text);
  const known: string[] = [];
  const scans: { suspectId: string; scan: Promise<ScanResult> }[] = [];
  for (const r of releases) {
    const s = await scanner.submit({ suspect: r.suspect, source: SuspectSource.FEED_ADAPTER });
    if (s.scan === undefined) known.push(s.suspectId);
    else scans.push({ suspectId: s.suspectId, scan: s.scan });
  }
  return { known, scans };
}
