/**
 * Golden vectors of sketch version 2: a fixed fingerprint under a fixed epoch key must encode to exactly
 * these bytes on every member. Any change to the definition (tokenizer, shingles, hash family, seeds,
 * digests, layout) fails this test; such a change needs a new SKETCH_VERSION, not new vectors.
 * Version 2 (issue 8) dropped the wrong-answer digests; with the version byte of every digest message
 * and the layout changed, these vectors were regenerated for it — the version-1 vectors (4707 bytes,
 * sha256 283b4108…cb246) are in git history. The independent check below recomputes, from the version-1
 * definition, the wrong-answer digest an insider would look for and shows it is not in the bytes.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { buildSketch } from "./sketch-build.js";
import { decodeSketch, encodeSketch } from "./sketch-codec.js";
import type { SketchProbeInput } from "./sketch-types.js";

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i); // 000102...1f
const EPOCH = "golden-epoch-1";
const INPUTS: SketchProbeInput[] = [
  { probeId: "edge-001", kind: "edge", text: "The capital of Australia is Sydney.", reference: "Canberra" },
  { probeId: "edge-002", kind: "edge", text: "canberra", reference: "Canberra" },
  {
    probeId: "open-001",
    kind: "open",
    text: "Once upon a time, a small model learned to write — carefully, and with style: don't copy!",
  },
  { probeId: "open-002", kind: "open", text: "   " },
  {
    probeId: "cmpl-001",
    kind: "completion",
    text: "Ünïcode café naïve",
    topLogprobs: [
      [
        { token: "Ün", logprob: -0.25 },
        { token: "Un", logprob: -1.75 },
      ],
      [{ token: "ïcode", logprob: -0.01 }],
    ],
  },
];

const GOLDEN_SHA256 = "04c3c8b8e9476aa6cafbcefdd30738698b2af1d047e4394876af0b8f427d9e6c";
const GOLDEN_HEX = [
  "4c4e534b02030e676f6c64656e2d65706f63682d310020010402000108bb33a5866da1ff3ab631824f8f3a93218c85f2",
  "2febf9e5cc9c97b2229dd575c200e0bdddcb0592dc9060ef0a8616f8894704d26a45af796e2505769a4585d96c57ae31",
  "76f720c75e85ac9656504c635e660ad506c822e221b6adc7d331c088de35ae8edb5cab0e4168c54c1fd21982679de0b9",
  "2e5d908b18b5a80f410c3ddddaaf7bc2bca2efab99c647a08c3644ffe74c3bc3ca8f863f670c8dbdc577d0cc0ab646d6",
  "b50688e5184d0bd1215405733c1f76357ec2ce16c0c366a56319bce4b249d1396cf9e9bef535c310b108242f61fba91d",
  "60afcc1a536fb80db4e50561d273e8aa71fd5cb2796e56cccc5a2ef6b6ccda9c711ebf9284db905170bafa5866494fa3",
  "45bcb3be25a5b2196c9a18a5a3c1c862cff1341d49d6d307af7a3928e55b8d1d1ca1ca162c926ccf51a7c18c63923bb2",
  "1fd2e7250b9f05215926bc528a76a0b38653de93e44dd45bc92c5981a2df81b6f51a59d7c5cb4d8f6eaf5cb4bdae5f12",
  "a67ab242428f99450816eddf5acd22494eee67026dcb57caac4ed79b5bea3cff2c497e33cdd47caa2e480641bd589397",
  "b28a38af5a4623d3704eff19f28b99587d9ed28c64e0e03fddf09cca98deeacc440317d9c0ed15ee42fa14c285696457",
  "1d0cd691b182493351327833b6924dc9b4abcfd77c53db378f013d93b4cdf1fae74c19d0c6bf3178e71798be2d1434fd",
  "cff47c10466bf510903a50c6b1b27468a7783630cd8af1e4e5a6e9383a4bfb6a6228a722d6d1e404f83a8150c094713c",
  "1d344b06e96e5874e2410fed9e49fe6e019dde0c954c55e5e4efe9823fcba51861473fedf0af71450fa16c1de4239bcb",
  "b98dc9d99b7fad369ef00e32f054deb8980c7d0855bd67e1515e66db33cd45b6d49b49f8dfaa9fb0d76f38899ee99ed7",
  "70858a9edbaa4704ed11c4e9690299dad4774322462e53065c7197b3b23742801eb6aa0087481e496584a440b6b57642",
  "e1544ab6af180bfe183ccb46c770b94ddc123422bafdae192a3bba8186b7886df90d49f25fcb4ee3e28b58e00c73e198",
  "11f919b1f05eadb1de740af6590cf6507f99a9face2e09c83af35c2f196e697f25f10d04c2543ddde0bed32fdd608adb",
  "b60dc159318cceb60c67926c5fc604df790096fad291e7ffc777eb8a07bc776c244f1c852eaf89e600cedf6b270fd692",
  "6438926e5f04dfaa2769283be53d05fc7c33d9cfceb0e4561ab3cda7d58aba1538a9175ad7707ee54410eb26dc57b572",
  "256ba4b8c3f617fff16f1ed1937926cfc898627e378e0cdb477760546dbcc77417d4fae7970e0f6a19019c184ad7d048",
  "f15ffa208428a9f91afcd5011a79bff6f9aee30e139a33738ab6f6bd6eff8cf0ffb481a5fbc38dfbd84789c43945966e",
  "562a0f873c1fadcfef3094b29368bceab62417ad2a8a010c70ba94551001b3cd3ac50214c1487649ae672a7b05706547",
  "23354b51c79a2b89a2747fc3dccb13939bd9280ccfbc59744e95ae74f8b7103c821667ba0ccfddecf2851b0c8dc0ce69",
  "9e7f8a6bd09ffd6902301a372e66e0cd43948638fef011ffa03f0269cc804a8a8b4a8fdbbf3cbf67494e16bef01b314c",
  "7b80d5f44ce53715efa2c1d65b96b8aeb51e793cc30eb5aa78165b087dce64cf51d76c060d63d2c322d20e7cc0c2067d",
  "d22b60133f089d2bd8d4471aec4e097f618be45e668bdd3fbc3c304d7bebf487c6a500bef94fd2f3172a9a2e2a6a2c47",
  "55cd776606d1f258361428a8afa12655d65ddfd9c52ba18e661ae4aebd224c9fafdfd54be178623c5f2168acae501f88",
  "1bacc1e1e0404653fa13190091e79bb548c8eae79cdab2add727e87b784803c049868c467ac3e5c789b4291e41b6876a",
  "764f700f2765b6f11d59584ee68b3e2cce1878d09541c43b18b33e13b1b5d9457fc9a53cdc158251c36a09243208ef60",
  "d1b57c5712e9acdeb9e4fb9cfff0a4a4f511bcd860654d960e76a4a5d2a3074755f4c1423403c30d114e7a87a5862a65",
  "33f5b3783d95af627a5f24108f54191783e3cab5ab81eee6147adf6c9fd52631720154a0e9f7353ad4d6d1aa7300c3ef",
  "9bf6090b63e09dab0f92b51042d17ca4d3b812dcc2e9c9fe80d5ad2659331651f155d59cba0051083956840d7761103a",
  "959fc528b886368833265cc609d6bd932ce0753de8710150e3d3c4788ecb72dc5caa6ab47c46b54415de705310d5c27a",
  "363810a8ce801a118550f4278ad62cbac164069685c17f2362ed89269ebf850cb01f1b11e43dbc969a04f6f8e19b89b3",
  "a276c530427e4b12657f11c00907f105d3dfa0bdec06260b52f2c3eb41d832bf87c2a0ab0cc8f49a3de8be2f46378697",
  "f0d3fadbac30cb36eeeb4521c4020671ba10f1feb0eb3043b9beb2aa98b7a2dd98efcf12c5d90539560dc03b66acb044",
  "8bb861108f9dafbc02bbcab172e25088b7fe0bf2f168dbaedd17b9d3f0dd1eb4dace83325e69e48c65e63b22a46396c9",
  "81e913eb4aa22ea5367da08ef1da1745de33377ec33ec5c6f14903f0739ba18e2de9a81cecd8e754be9b770ecb23872a",
  "18bfb90674669ed12ff3d827671124c04d34252dadc38ab0c2cab546ef822de0edd06d23fdbafdec0ab46f863f2807c4",
  "889dffb7b2731a4cd7e114570e99b10831da7c9aba5a2e4c7bca28fc84e96a198eebbc68ae53619b62107ef2aeb6fe47",
  "16154d72aeaee882f8bcc132011c59e3d392d920a59506c3cbbbfdb4770ef2e0203e5443d257d366db31204f76ac5eef",
  "28e057e3446355953331f3be982bee7bc987312a862e1804c0804a53983f91b2bb1f32ad53eb5e02dc3607fef493387f",
  "3b2263b230ece03d443b4e17fb0e5df7a5c49c11c3e418838d904f3cebdc2b6183fd57e1896123d67f03c4bda4099f65",
  "816fec91c9333aac5b1856d6b7875b37f92ad2c505130c1df4f330ef0d0ae963681e57125d7980f7867a6f94109f9d22",
  "7af46ce15cf3103f27d492dbdb9168fec6c3670abce5ac7f8397306c3c581f18837b2dcebf6969944d0d755180c1e925",
  "6ab714d1651c5deb0e2a616eb9787c5b259af929ed70fe059f9b5bcbde0bbf30eeedbd6549fb5829f05f05f572139784",
  "c982cb4ec807d706268ff22094b6fb417c224e1964dc7689775f8b0a136dc664f6b3ea92512774d464b960be8b171b94",
  "c7487a00c0cc5275e61d19a187a14fe5158c8d91fcbf822d2341ac8abfe30dd640a16c5eeddf675125f473419fb5a689",
  "4c8079257019780d8f18013efac0a365933e5e53a76d44697956f812c0d7515340109156c5803e9cd36f08bb80eca66a",
  "0eade0fd5f6a788e001b951cdb94280508955d75f4db83e14f397223b1c882ee559c4c2a38e53c9f5ea9ef4205b4ad95",
  "366b5a8f7752a7c102a5701a26414c5b88db61fea552fe09def1a1d0f3f5353e2d2e3e92e36eaada922b861efa11ff5c",
  "087607d0e3a670f6cea0e631f6a9bd90213457b91c2717fb54bd8daf0eb2cb330eb9ee1e067da121c1b41412e7714845",
  "0fec16e1b42ac287486f7f5546d89e70bf93af6d611db9bcaf203ea47021aa5e6f503b2a504516131fbffdbf59c0cf4f",
  "5fd59a549c27537f594d0f9dae85dc46b0afa76ce1c73efa7010df40aeee163fd0dec0beebb8b085edadf08604dfa379",
  "c66afa9175d5915a985febf3923a2be2509a40e98b626d5f45ae26c08778f4c1beadf75d5d0a39306940898a1e66af79",
  "a1699d2980ea468d0b0bef8f50a02089f5a42522f2eab9ba7c23352936b1eed87b93b3dbe23412f66a027f6f7eccd82f",
  "eb8182f1d0b06aecc9803d8da2241694c3c0be04e2966bedf1152089aa90f741725222c0a3c021b4dd136a00e0f7fb3c",
  "0c4cdf3275dc0b781d992136402768cf2d8a5aff6e23b866bccfc6150956f006bc8131f23c51cf33994470538a6bc799",
  "4b5fe9a962ef3a2ef05c09edaaadf1afdebd1c09c343edaa8127f5306f38b696658b5493463f757815e8c2380d55a2e4",
  "b5230f1870a78d274a6ac9eb3316457c8055a0d8e9579380599a30479638bc52a29ad8c6ad580ec13a754b2f93efd0f5",
  "e14646d45eb36b9df556ef4d1daf521d97f2cdecd4619182749449c36d703f623638b405d1981f4aa1d89715481729dd",
  "b6c1adba3635e98f5292560779f9a953c98ef6c21d9ffa92b7732f97f05f4fc100cbfe1f82607ab0397ce520a38479d7",
  "7eff3a1e5bd29748cc676ba2d96bc325d2fa3679ce844596c676f03899a747e0f8028c6e20c9189d29843f9e32aa6b4a",
  "edf90fae908404f56f922e956d5accff176aae2816c814dcdab23d67b6a3426432f648e8b10fcd9aeb14480cad437b0a",
  "7180eb717ab035c30b0d5bce065d94d386e5bb981a6a20d748a51e40b3630805646530eab155c65fc16a4991947b7967",
  "6325a911ee5fc3887f5661528cf99ac1207fcf0c3324f1851d4a679cd6c448665441afa147f455e3dcd6164b4f460ba4",
  "91f993d381b206337dcb777910439aa67eb8ae2a62c8f2e0e10794ebc9b4b04fd063bdfcb81fbb7e76d24fcba758ee0d",
  "51d7b78b0dfc187b94f7669c2ce1573ef2f00610f03ceca3e641f8e5162c84c34ecd7ed0e9349d8ec87a291691739168",
  "d655dca9b9af9870f46a3c9c34c58d3cceec098edc7f919e741a627ae118e23c83187e7a205ebf52f09ba0a133bccce5",
  "f349bd262cb1968d76ad7ab27e3c3047649963a43f5838488f41a3529273e938463c21ee38f223ed8cb3552e15177c27",
  "224a8f98cd8f24fcd5c6d1e72b6678763bdc0a793e1aee670a9d6e0a4bf541f58b24255830c9335bcb52112cbd8721d6",
  "7ae235b6d4f636736b2da492b742a5d3be9d67a03dc16ba8274de67451f9a12799855abbc517118f77efaaa8b785d20c",
  "95eec19ef6ce0c9dbb73a56fec2dd0afdb4f3db52a3f9026486b582e96e4d0dbd9dbff3531118afd2ebec84ef285ef77",
  "e4d2687a27b6ad59fcaa1c7d504418bdf66291ac5f4af21427b97fe978206ca3095d703b541ddfc33d5507bb34290db9",
  "16e18ac564407656462d0835c47f37decee0dc07ad6c0c610fb2574187c8b0596854a12b02a6175fe026da19fb214475",
  "eca53869c52434c23cde670cf292ac10b7fcbb1196a59e793f6a349757796b3c5ed157929b6efbe005bc35d50351dc85",
  "6694b72fe76010dfd5bdb501056667919e0232903593ec4ab048591e95644fa5fef43a9d49f53463df2ef1c183f13b58",
  "0f07c6a4483f4bd6acc7b28f2abac07aa9a4a1f80b0a0607ae9929c5846591302dcb3646f1f2f258cbe9e17fa4dc371c",
  "c135c4d24401c4cb09fcf2d1518f558bdeb8ce201c3cc44cb3deda9f1ce7f4af90f389465ecb9258b6c19e1253bf782e",
  "94f2426dc918ef57f77cf870218a126e1960a049e181d3a00a16be25fe350b5cee81df8629c38ff45a9266528c2278b0",
  "4b642d1d375d00d2134b3384eed6efc75f3c0885a2871c30c951d316f9f028f57993d9cbe752dc0ea51ad876fe97fed9",
  "502dabc4485cf32aa94d992d17df9f29ced52891d0a2e80064b990ff9d3a6717d631285beebd64912846febe98668192",
  "44f2e502ea9b0890f74dfcd4487f9632ab98a0849ddce2cf82ce8bd8d590e096d375a901ef055bc34184a9ff3656363f",
  "b3249f4c63c34bdc8b2b6a6c2bbb698148fa460e60b1508fc4cd0e14293aae2e3d40cbbbec9336d2d2cfbeebec369683",
  "a924740e0854e258cee250d9159164ca36469ce8cad48905175cb6562358f8b18acc3db49737f55da104acb438047c5e",
  "05a4ab03f35c6ef2f6de9f88131516f62a606108a8782ad436bf708862f093461de55fc5c36db16050d34ceecf7b4fd4",
  "ce82deab5b000508636d706c2d303031006687db7ecbace22eadd5dad334a5ba8b11af2c7cd4ab59c9d69d8bdaa71d7d",
  "309af2db3cba7a2a40f4dac2e33e0cd6d52df2ca015519f78fed4cd05b39e62873a871b2ac17938b062e660751558c44",
  "8cd97c339d17f28767a2e5d701f8771d8905ebb8db93325657a21c77998d11b98dd195bc74fb95788bde33d04db834b0",
  "a408656467652d303031001f636d4dc78dec8ace5d2cf6be27c9c7fe9f2a3b42aaeb6db09377d426e619d86adb05dbd4",
  "943af06cbfe0cb23f2d611ea6269d0f44d83dec2407d41600cfdc0f67f64b0ba7652cb9bbc3c81c17826eb08b47c4877",
  "851d597ad894916c4b0dbcc6822235b2279c2a57182c2cd1b82452fe34af45a830ced5860b37f79b83119a0865646765",
  "2d3030320087d46b2cba7545ef8076f68b5f0686f3f93d5c0a66f60353bd67dfe98f46159fe701b79a792a272ce49465",
  "73fb7de96c2a0bde1d34a2e3186f23c7813f15c3b81f0d4960dd9081591718c178dd8e5bf728e3a535c978a088c3895a",
  "2cc0959a4a7963a0db796de02f63bfd1e0034c2b79f19a19eb72304e815e47bb3a362771a9086f70656e2d30303100bd",
  "b89f8e86af8fa723cc85a229c9041e6d443f5f33611a5f320ed62038fecc6ec48a76d3a0b4b2da30af09700b80ee74ca",
  "0e89b9947fd803ff8b773a91e4faef669dc346163a2ad0f36de30bb64d726f91351ccd6c48948d18f8db740b6c992aca",
  "9dcc8e024f4975401d21932b040f5871905f089a24d5a94dc9760c5fc0bbf6086f70656e2d30303201",
].join("");

describe("sketch v2 golden vectors", () => {
  it("a fixed fingerprint and key give exactly the committed bytes", () => {
    const bytes = encodeSketch(buildSketch(INPUTS, { epochKey: KEY, epochId: EPOCH }));
    assert.equal(bytes.length, 4697);
    assert.equal(bytesToHex(sha256(bytes)), GOLDEN_SHA256);
    assert.equal(bytesToHex(bytes), GOLDEN_HEX);
  });

  it("the committed bytes decode to the documented structure", () => {
    const s = decodeSketch(Uint8Array.from(GOLDEN_HEX.match(/../g) ?? [], (h) => Number.parseInt(h, 16)));
    assert.equal(s.epochId, EPOCH);
    assert.deepEqual(
      s.probes.map((p) => [p.probeId, p.empty]),
      [
        ["cmpl-001", false],
        ["edge-001", false],
        ["edge-002", false],
        ["open-001", false],
        ["open-002", true],
      ],
    );
    assert.notEqual(s.simhash, null);
    assert.equal(s.coarse.length, 512 * 8);
    assert.equal(s.version, 2);
    // Version 1 published the wrong answer "sydney" on edge-001 as an 8-byte digest under the epoch key;
    // recomputed here straight from that documented definition, it must appear nowhere in version 2.
    const enc = new TextEncoder();
    const digestKey = hmac(sha256, KEY, enc.encode(`lineage-sketch-v1\0digest\0${EPOCH}`));
    const id = enc.encode("edge-001");
    const answer = enc.encode("the capital of australia is sydney");
    for (const version of [1, 2]) {
      const leak = bytesToHex(
        hmac(sha256, digestKey, new Uint8Array([version, 0x57, id.length, ...id, ...answer])).slice(0, 8),
      );
      assert.equal(
        GOLDEN_HEX.includes(leak),
        false,
        `wrong-answer digest (version byte ${version}) published`,
      );
    }
    // And the version-1 layout is refused outright.
    const v1 = Uint8Array.from(GOLDEN_HEX.match(/../g) ?? [], (h) => Number.parseInt(h, 16));
    v1[4] = 1;
    assert.throws(() => decodeSketch(v1), /unsupported version 1/);
  });
});
