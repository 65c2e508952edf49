/**
 * The operator's client of a member node (what `lineage member protect|models` use): every admin call is
 * signed with an admin key (admin-auth.ts) over the exact request sent.
 */
import { create, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { type ChannelCredentials, Metadata } from "@grpc/grpc-js";
import {
  CommitWatermarkKeyRequestSchema,
  type CommitWatermarkKeyResponse,
  DiscloseSessionRequestSchema,
  type DiscloseSessionResponse,
  GetCanaryExposureRequestSchema,
  type GetCanaryExposureResponse,
  type GetNodeInfoResponse,
  ImportCanarySetRequestSchema,
  type ImportCanarySetResponse,
  ImportWatermarkKeyRequestSchema,
  type ImportWatermarkKeyResponse,
  ListProtectedModelsRequestSchema,
  type ListProtectedModelsResponse,
  MemberNode,
  ProtectModelRequestSchema,
  type ProtectModelResponse,
  WithdrawModelRequestSchema,
  type WithdrawModelResponse,
} from "@lineage/api";
import type { Ed25519PrivateKey } from "@lineage/crypto";
import { createClient, methodPath } from "@lineage/rpc";
import { setAdminAuth, signAdminRequest } from "./admin-auth.js";

/** A connected operator client. */
export interface MemberNodeClient extends Disposable {
  info(): Promise<GetNodeInfoResponse>;
  protect(
    request: MessageInitShape<typeof ProtectModelRequestSchema>,
    signal?: AbortSignal,
  ): AsyncIterable<ProtectModelResponse>;
  listModels(): Promise<ListProtectedModelsResponse>;
  withdraw(request: MessageInitShape<typeof WithdrawModelRequestSchema>): Promise<WithdrawModelResponse>;
  /** Canary sets (sessions/session-handlers.ts): import + commit, exposure, a sealed disclosure. */
  importCanarySet(
    request: MessageInitShape<typeof ImportCanarySetRequestSchema>,
  ): Promise<ImportCanarySetResponse>;
  canaryExposure(
    request: MessageInitShape<typeof GetCanaryExposureRequestSchema>,
  ): Promise<GetCanaryExposureResponse>;
  disclose(request: MessageInitShape<typeof DiscloseSessionRequestSchema>): Promise<DiscloseSessionResponse>;
  /** Watermark keys (watermark/watermark-handlers.ts): import a key file on the node, log its commitment. */
  importWatermarkKey(
    request: MessageInitShape<typeof ImportWatermarkKeyRequestSchema>,
  ): Promise<ImportWatermarkKeyResponse>;
  commitWatermarkKey(
    request: MessageInitShape<typeof CommitWatermarkKeyRequestSchema>,
  ): Promise<CommitWatermarkKeyResponse>;
  close(): void;
}

/** Connects to a node at `address` as an operator holding `key` (an admin key of that node). */
export function connectMemberNode(
  address: string,
  credentials: ChannelCredentials,
  key: Ed25519PrivateKey,
  memberId: string,
  options: { readonly serverNameOverride?: string } = {},
): MemberNodeClient {
  const client = createClient(MemberNode, address, credentials, {
    ...(options.serverNameOverride !== undefined ? { serverNameOverride: options.serverNameOverride } : {}),
  });
  const method = (name: string) => {
    const m = MemberNode.methods.find((x) => x.localName === name);
    if (m === undefined) throw new Error(`no method ${name}`);
    return methodPath(m);
  };
  const signed = <D extends DescMessage>(name: string, schema: D, init: MessageInitShape<D>) => {
    const message = create(schema, init);
    return {
      message,
      metadata: setAdminAuth(new Metadata(), signAdminRequest(method(name), schema, message, key, memberId)),
    };
  };
  return {
    info: () => client.getNodeInfo({}),
    protect(request, signal) {
      const { message, metadata } = signed("protectModel", ProtectModelRequestSchema, request);
      return client.protectModel(message, { metadata, ...(signal ? { signal } : {}) });
    },
    listModels() {
      const { message, metadata } = signed("listProtectedModels", ListProtectedModelsRequestSchema, {});
      return client.listProtectedModels(message, { metadata });
    },
    withdraw(request) {
      const { message, metadata } = signed("withdrawModel", WithdrawModelRequestSchema, request);
      return client.withdrawModel(message, { metadata });
    },
    importCanarySet(request) {
      const { message, metadata } = signed("importCanarySet", ImportCanarySetRequestSchema, request);
      return client.importCanarySet(message, { metadata });
    },
    canaryExposure(request) {
      const { message, metadata } = signed("getCanaryExposure", GetCanaryExposureRequestSchema, request);
      return client.getCanaryExposure(message, { metadata });
    },
    disclose(request) {
      const { message, metadata } = signed("discloseSession", DiscloseSessionRequestSchema, request);
      return client.discloseSession(message, { metadata });
    },
    importWatermarkKey(request) {
      const { message, metadata } = signed("importWatermarkKey", ImportWatermarkKeyRequestSchema, request);
      return client.importWatermarkKey(message, { metadata });
    },
    commitWatermarkKey(request) {
      const { message, metadata } = signed("commitWatermarkKey", CommitWatermarkKeyRequestSchema, request);
      return client.commitWatermarkKey(message, { metadata });
    },
    close: () => client.close(),
    [Symbol.dispose]: () => client.close(),
  };
}
