/**
 * Golden vectors of sketch versions 1 and 2: a fixed fingerprint under a fixed epoch key must encode to
 * exactly these bytes on every member. Any change to the definition (tokenizer, shingles, hash family,
 * seeds, digests, layout) fails this test; such a change needs a new SKETCH_VERSION, not new vectors.
 * Version 2's keyed kernels and digests are also checked against an independent implementation written
 * from docs/specs/sketch.md (scripts/vectors/sketch_v2_vectors.py, Python standard library and a FIPS 197
 * AES): the values under "independent" are what it prints.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { buildSketch } from "./sketch-build.js";
import { decodeSketch, encodeSketch } from "./sketch-codec.js";
import { createSketchContext } from "./sketch-keys.js";
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

const GOLDEN_SHA256 = "283b41087027f4b8cec249c2ae748034f0b2580610f33472f502c777252cb246";
const GOLDEN_HEX = [
  "4c4e534b01030e676f6c64656e2d65706f63682d310020010402000108bb33a5866da1ff3a813fbe6c783ae304845ef8",
  "1a6174ab304368637a24b0001ca5665fd35254a9550da3c73e8b4d14742c2b42cf5f4c2b15268459bc35ac800cc5db00",
  "c8ea15b175a530035bca25c8a08d2eef1c6578db6147372f4c87723e2994c552e37f8352ea1aa5663488913d4441bf6f",
  "4f35fb9142c2e7b5abd23b21927841ca3108b5463b0189016ba42d60864b44eed71910760a127ceab5481a0b6d4566ed",
  "07dd8b6cb1ad48f1dbfd53c5e4f224cf6ec06d26730fe6eb4aad1037aca6f88b6473240df437e3db602dd985f7ac0085",
  "22415b94277f3b737bca36f35ed67907985517d6e959cc49dab023eb46664f544f82855a916b1f605e704ee36ef823ef",
  "696ccae8e7e35e8acbd6f143098d770a793a235f64c858862963b2f2774373b76b3a426040421cd49498fc2dc34888bb",
  "0ade1a0438742821070ff4d7a8fdc70651675751c4b39249617cc70d08505c9a23434ca75742080cfc5952f12767e6dd",
  "702942cf6288018e86abd102995ec916f6bf654525d71b6905ce40ee7162d0a1d5619080bdb7d8971d92907c48f567ed",
  "162b5c524dede9effdacd53af9e5cc5fe4141fe59641a2d4d57fbbff9509fab6542499040bc19c1aee1216d2dcd390f6",
  "9ef4faf4928ca17ee4aaace00ea90794524b720bcdd97090aad796d2ef0b572f72794bc1eb8f026da165ade46fc3fc43",
  "9234d0165cb98fe4adbcc8cbe4f06e9d99b45875b1b033bd609e4c1cbf0fcac91e81886b7f33de5241e6bcccfc25e17d",
  "ce9c17aaf017e8a434ecfc38d271bdf953be8f37062ff3fa00cef5c287a86551acf0e125b4dc3ec084b76019f64eb492",
  "016c155d5b38156292ed9ef43a67f65d7cb9fabbbc0729241ac04e1dbbe2a4adda97fb10006753db8dc24e3fd2880322",
  "0541e1087d234d40324c5cfdebf9fa34b1f835b09e21f763f2a26800498e668f1394c292cc5b6060334503126af5a31b",
  "945f85bbb9c3c4eddea3d57c745e78ae28f24c2fb24eba363873112432f5c3e672992dec8bdfefbba68cc783df009231",
  "2805bf68d87d5ffefa29d92158af5ebedfe6645b899dacfb3334b0c381fcf0c5545999758e02cfcd42d7a568e7870353",
  "49da5215e1c7f04aedc6fe3a619f05529089e9373ade1ede6d59813b3fcfa58d4edc018d85a04ec24e60184f867cee25",
  "b823e769e971a82c177e372f5c1ffcb74c2736a9b6ff9ef49e3b370156d7f90b522542e3a31143a01ca837494f29c939",
  "733919909312b8ec82cf3cf49d32a5ee5d3e141a72ecc24dbb8440b5dc0827d9042b1ed4fe0b787b8f4bf1e7c865fef9",
  "a7cb35cc34464148e1f001a546b83369ac372f5dadaf572b6b72e151dc78507e5517bc1fbcfefbcd8ee2aa81894e562b",
  "20a8d2f28080505ee575e453de58c2bf9059247b0cd7cd4f7d025498d92c5b1eb0484b798e869fcbb89b88e93d11f6d9",
  "dafc88b4f9bd2ee6e7f6b94f87c8c1d7b431bba2129714236214b9dbe85c933b1c62eeea4f727befaa3af904a0806c31",
  "a2ccb9ee366513f2f27b64c37d4cddb27928a02fb7d571294f30dbd6b679ebb5b7ae69e66486948b1841b2231419b094",
  "97286d546cc8477351dd586097f832d9d2028518d5cc8bbac0a6e36a8ebee659563ca981f423e953553dbb27cd4ce6e4",
  "ce1b48bc9a8cd0d4861cb0c94e6dd90534ebed94c09c2f7c5b4a9e175760949ac0c275f900c1222be0ff3754c82b6b08",
  "2a464af4e6d1e4af7d6f5e2689f4f65338c844ecb94f6719757b907f6d1449a67aa6acecbd1eb9840df21adb890eb84b",
  "8ba497230721c445a1b12a09f8961ed5747dae184ace3bdeef74ca87bb005a8d3981e9bd56a03d5d4322bbcab9c8a26d",
  "a6c4a511c6809c87a2a1a6b1581dc8fe39bf73044b02a91a4869cde1f8af52537bb32ae70c008f53ebb6a885650a4e54",
  "532b9e317dfeae6fc627c8cfe730fa50de9d95d0c53b392b584c3541ef044f2c056b950bdc14dd961c58c091bfa46f9d",
  "c993dd230f18379417425368519a52724bea5075ad5d2d95fc15096e4d92316d8bb640221f725195d1294fd0460bdcf8",
  "b41275950a8db5fbc89c6b108a77638ecd9b3b3e9de8457b481fd4bf4e23f93ad5601cd9d5b276e9cc735bbcc9a1662d",
  "efbb4d96539c65c9dfbdd673f7fd73446c8e200b160fdfb7fe377b78e62dd097af2f60ccc26f374e3d84efe5a42a605a",
  "4ea0aa80de21435369d2131f90e85e524140b4540e6f6febc8c0aa0ea7ff4884e242e23555933dd3506d9b02ca9bc601",
  "6504b62103313acde70eafedd8e7a11b14a70c1bcb0d6c6ceb719185801835659ab765aabdaca435db67fe9a02cd7efc",
  "2c7c5bd7bca4982b568b4f2094cf73815a9b489f519d906a72c128d566c2bd5988b381542916a1d040bd59d8b738819c",
  "65e4fe70f71f240c5194d992f78f81e35161e5e9e31c0bef3a7ed36b0d1f096f541d26f737a508201d17bd79e6e3027e",
  "b05fd6b3e4c6abdb134ffe77849a63f524545ab08e3c800e615a6c126ee2b2e5dd56d78bea0855cde571970824444aa2",
  "cc581cd6223fd46c5602f7fd4eff62e1386b1dfcb53e19859d2e3a6868dfc1ba4f96bc7be731e6ae2e16cc22a8bc3200",
  "d0309412c81732725a67fd12aeff3540a17bfee8e055d10f6f551db54957f73d68d21758909e5481ea69f8e579004ec0",
  "a2a48f444ecc2b41dd63a632733043cd03fca99568164569a815576eb289fcb79d2b6fdaf9c78bd7aae3563358ff078a",
  "3e0e03828e2059b259bb8f65736bd422ff9332e227b54b74b32b2ff37049c781379db583d18825373f88294e92b905d8",
  "2c1b085707c663827c58c9f542f948a2f2e5acafaf9b72da443eeb94ebb033ea6ad03897c19b170e676fbebb6a9af933",
  "eae2e31d0e93c0c202eeb32382af36b536d9c3790c2e7c1452b86c0c3b0aaa527d141ddcac420d34de9529f7d5b026f5",
  "b102bbd49a40a2da08d2c7c5b521a0df2cff16cdafccb5bdf670899dba02011f69f5485bd61a25e9b14f275f9e13bae6",
  "18e2a8462480bfd3b104feee735d7ad5d05fd269a776bb5bde3010ac6b5c36145260646f51ba5b992f6157dfcce3f8df",
  "311bd26ae963619a7747d63e98c63d0a6937a3f1aa8e544b9e0d8eff5521e7471894e4c3ba07ce158e94586bfb2dacaa",
  "fdee0f2349ca40a0c3aeb5b836cfd48083ba94629c96d0c67e35a1cf4b6682c4d386da506c9b8a2e1e0236558834a35e",
  "0a83e8ec81c77b2370cfeb17da4a141a39bddb94c339fc8f75fc93d4f8fa4d7e26b04c1a28646d8def0ddd2e50b37e04",
  "9d8cc22156be7c6c179451e0db0b6c940f95533bd775fa6e34b070fe108dc290fff40a22fffca0765cf5e6ca505e89ce",
  "f9115b2abf2ed3bfcbb4ef4a8b3768073457f36b046ddb019246544800ddbc17617b465bc0040d9ebfeecfaa40ce25b5",
  "6137af84efa2ecf7dc3ee9750738387c09cd2a3ee75921ae863ab872801182286052f1337cae048552334acc0671cc82",
  "4e1466ef7b71b86b45a692c55e906187319549bd19d5ca366885dec90764dbc1e078199309593a061603097949bf5fc7",
  "6414b9515d15a4e192e7adc4ff94a4dc52afcb689716938d7d74c6ef35afd0eea0153cdc119f1abbffc6b435c006235c",
  "b8740e108ad2d8a468ec0b6c481fceb86234bbcf656feb7d880db9035a2fde5be554adb3e45f7e644f433293c419dd31",
  "92f01cb07fe3f3ea176390f46ccc4363716b36617b045d6be9e63f78d69efd6ffacdbb843e8e65a0e0f6de0a54a8a405",
  "8c736a752aba207d0af9474407a330cca6c181eed1cd0cb5363a60f8979b1f061d69728ec7535b7dad94d6b60b283043",
  "0ba2d7ee85b61059c32384931852ae4fbbd3524d2ce7ddb3c84f5da5cc9621c39677a5817aad5cd98c39bac9a3d5da5f",
  "8e45f92253c2ebf1627afdf8d4ddeccd74b1f8b7ed0533f07c3e1148d431b8f9fc009c9d36387cd476e8d8cd74c12b20",
  "9f30333bc8d9dadd2678e0c655f1d9501237de903f8436e233b920288e055b9b7e3de0c15fc6bbed8fe4302ae718e667",
  "87b244b2fbff362ba2d2ead6240abd7e6df47519b228c122f36b2a0dcec2d7d9a71028f261ecc1acc024e9b3cddf7ad9",
  "fef41e66379a96a1ba48ca7cdb9207f30d6f0f77d3789f2a6123c3ec5872248b1b3285f3e9f4e829c510000930e8fe5d",
  "d06f6b14c2b27d42f6781b7b88994036b018f51bb44868e8e65d762b0ecb567331653adb878210866962d91f4bca0c28",
  "761206f12ce75489fa484f0c11147e47217928fd7103b243400e70e13b42aa75e25bf03ba740e986fd57e2066a06d27f",
  "ae12666b08adc23c625705b9760a7fc7a1800edefeece325d2cb6fb568dbb64ba5ce1c7f844d8c172f91569f78954008",
  "728543cd972f539948d1acb2bd9eae2ba0d6fca4bf3b83ef293292a9f0d91b3f8da58bfbb135e619e7df45b014152878",
  "ef58cdbbe5811d611b8c1a46a18a2ae1c932bac62187b5da7410bdcd5f4e4b7748d9e45b44a6f3f128264ace7cc8b06a",
  "d8b453cc97d1f5830eef840834eb03a71afe17c50051555ca7478ff930a94df26e62386a0f3adb187e9e679d1c0ab024",
  "9c1c2b9bf01af2694e9e5e09f1788336fa70a77a2d989e1de531de71a2050aaf2055ac2057b051e95a9833b1794e1ba8",
  "fc0a48155a0f8e8a9154310cdca7a7366011702fd35a11577ddeffb68815083afd9756e58f07d1d5044941822ce62eb2",
  "ababca6e2723ba439a26c7ce44a8572da1d6807bedf92c0be19b60b80b0c69c358bfaa24dfdfca4c846545b7b0e7a60b",
  "0fccce8675492bc5ba3b2656611682c3be75f74c808430a1cfa08484b756ece3b12997885644ea7e29b8173a16d9ada6",
  "2fef9bf71609ca7f032ce1abb15bea9dff698225ffadb660f081ec10b372908e42df51bdc129c3b48f76e8706784c5b8",
  "506b069bee044409b7dbd90463ed8be99caa2648f71adc6e98232edc60bf8d316bc88a99879b11d0c77170976bff15fc",
  "16d7bb7cde8f819279312bcf4a1ca9c3be22ccab5269a2121729b8573d4a8131d67f47b5dd7494bee30f7d7e42f3aad1",
  "faa37472b532507e3dd41665b3bc2847750c40d2fbe697ecba3c5c27a6fb616483da116b130b83a5fd50b1e48f672121",
  "448e477bef6107caff153e8300112bdabaee2d783ab812d663e611227cbd6fcb68846eb43fb461a7036bba9791e60f48",
  "cb0888ca7db54cc61d901c13de3c7358c8cffc08919e3877fddf3d9b775ede1b12d7c315e1017ddc3bf3bb7e613839f5",
  "0b4896db73fbc017f8ba9f8a1762ed54f82b3003f53d2e364e1facd69ddd4a2fba8ef2b16db3784c0b0bb8237c161698",
  "620e9d36f4c229cad9928abf5ebed555c566e56c4b63f8bdd0caaa8d43b86e29cff5e2e51ef87aa7a860de7d5e59513c",
  "57a1a5138c3c60498939f72096034f59862f5e6c89e858ee0b71514e596dd0893ac4f9e5bf08b54a26fb00bc47b3cc91",
  "33c8bcbe3af263043471d680bebc51e32dbb257d1f4ec023ec35f9236c619b6e91bc144d4f55a1c4ddbe957ea2a1cf28",
  "d9fdf08d5a7061e83f1e9c25c6d3283fb40ff2ceef3cde08021a5244e003db9fe22145b7059c8aebfd519bb35ea41107",
  "edf808018eda0faf6e38af07f6a4ce2569d09cb6ff63f3b6b7f3a8f8d4c6283b19a1a574386bdf577b57c8fc526b1b01",
  "7ffa4081a5622968e3e7f3ffc5669a45cddcfad7d5343e6056a376c0a6bf166a56883a216dfedd19b1215133d6fdb817",
  "56fdc12f810b4bc5390bcf2d622b87e78ceaebcfc71ccdf31009ec02861517ae535f280ad4bf4a9cc47d90ff8d816f8c",
  "b295536d18000508636d706c2d30303100af5c13e948f3032cf9c3f649ec54ec611fce98d0d4b60294e35294b8c67157",
  "0e7ae7d2c7bcfdb28c5c9de7f2b2d606fd585f82eebe96d93146ec3bbb5f1993150404535136f2bf2cde7901ed634588",
  "5fad685e5ba111dd7e3656473912a22b7263e63d67c51a15a3ac60b265c5d0533b8a7f18117bd7fadf7b94bfd76ff9a4",
  "db08656467652d303031009a486fbd41b727b4d9b7c587281788e638665ef7f0e3f249de77069bc5fde7297607743925",
  "20297850e6207cdaa07c05c16df1d40473b81334abb3c1225aa938ea3fdd58defd27aee35eb0e2cc4385bb5045e49717",
  "68085e4dc8afe242932b36cb80c95ca6c3a3fb30f8806090ee97cda840faf91555a014bfce99fa77244a300865646765",
  "2d30303200ef4ccdb35428ea63780ff011d4ed0bf4ebd0a54343101028b872bb84f243843419ae726683034d5acf0e3b",
  "abb183f2d93517726a36d3ea18b3a8912e5c41e92c3c840d7b5a0cb50a788f65149bb85d878d710ea54f1c3b984cf281",
  "737d3ea9acf092714dcd51a37ce28f88a2d083c5a0aadaa7d2a2b27e338879794d87dbbf67086f70656e2d30303100b6",
  "309c151b85f4a76a1464121af28b083a717b48a04010a926247630a304fec4d36e60ad33cdeaa6e303de8d7f7f9423fb",
  "f9af577db17fdec11f76594f9958ab3460e7b448a6bba973c7499a65f45918c793ed221adbd578c9578fc2ec457a1e31",
  "26c8a5ccab2c1a1ec7156a143f59367e602009fa4271209e79edd499bebfe3086f70656e2d303032010001985af7c81d",
  "aaf34e",
].join("");

describe("sketch v1 golden vectors", () => {
  it("a fixed fingerprint and key give exactly the committed bytes", () => {
    const bytes = encodeSketch(buildSketch(INPUTS, { epochKey: KEY, epochId: EPOCH, version: 1 }));
    assert.equal(bytes.length, 4707);
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
    // One wrong answer ("sydney" on edge-001; edge-002 is right after normalisation), recomputed here
    // straight from the documented definition in sketch-keys.ts and sketch-build.ts.
    const enc = new TextEncoder();
    const digestKey = hmac(sha256, KEY, enc.encode(`lineage-sketch-v1\0digest\0${EPOCH}`));
    const id = enc.encode("edge-001");
    const answer = enc.encode("the capital of australia is sydney");
    const msg = new Uint8Array([1, 0x57, id.length, ...id, ...answer]);
    assert.deepEqual(
      s.wrongAnswers.map((w) => bytesToHex(w)),
      [bytesToHex(hmac(sha256, digestKey, msg).slice(0, 8))],
    );
  });
});

// python3 scripts/vectors/sketch_v2_vectors.py (its PROBES, KEY = 00..1f, EPOCH = golden-epoch-2).
const V2_PROBES: [string, SketchProbeInput["kind"], string][] = [
  ["edge-001", "edge", "The capital of Australia is Sydney."],
  ["one", "open", "hello"],
  [
    "open-001",
    "open",
    "Once upon a time, a small model learned to write: carefully, and with style! don't copy",
  ],
  ["open-002", "open", "   "],
  ["rep", "completion", "a b a b a b a b"],
  ["x-edge", "edge", "Canberra"],
];
const V2_BANDS: Record<string, string> = {
  one: "4d85e2bc2e85cc6ee51e8ec5e66987d08b0f458419d809bc261a8bba606998f5c6e370ca455993d3072bf9034a5fee153811c16136fcdc8370a293f3e701dc3e615d48324b289bdeb59839f3726c69435e22f1f3e2307a314d1a1c5404b4d0920294c366ab0140c23ae3c9a3fc7f041ec052187c115dadcbff8d10bbf66a8373",
  "open-001":
    "c036bd570f694b3535a7f1c1612aa6d2db47be10fa75334bd5868c28ff0247b40f47d4184988e0afdd0657461f899d764a93904ae5451501f0e0b89345e27edbc7837a55cbfd1c79ae06db126627eb6f9be20dfa9e71cc28965cebf76736dda3f2b6b6584e298c596c52fd0bf16373eee9ed588fb64c70ac3fccaf40357886cb",
  rep: "6b7a47c5bc9ca5a7e02bb3826f19b5450868ff597b69531f248a9fffa761926a7d4f8ad99ae83c462060ce3e515e62733a19c6a107b9174f6f18c998ba4d49006a0d172c27a41ad90cb068182cb44d97fb684197a29719015c6954fc243417d008b6025dd035656a53f40ef9390a84ae3429e4d84f3d2fc29376310a5b6de37c",
};

describe("sketch v2 golden vectors", () => {
  it("independent: seeds, per-probe band digests and the coarse signature equal the Python implementation's", () => {
    const ctx = createSketchContext(KEY, "golden-epoch-2");
    const { seeds } = ctx;
    assert.deepEqual(
      [seeds.token0, seeds.token1, seeds.coarse0, seeds.coarse1, seeds.simhash0, seeds.simhash1],
      [0x491c2366, 0x956b5a04, 0x42c16cd1, 0x4bfee056, 0x653215ac, 0x6f949cbb],
    );
    assert.deepEqual([...seeds.probeRows.subarray(0, 4)], [0xd488e170, 0x56777485, 0x68b3cb56, 0x0ccd367b]);
    assert.equal(seeds.probeRows[31], 0xff3f2271);
    const s = buildSketch(
      V2_PROBES.map(([probeId, kind, text]) => ({ probeId, kind, text })),
      ctx,
    );
    assert.equal(s.version, 2);
    assert.deepEqual(
      s.probes.map((p) => [p.probeId, p.empty ? "empty" : bytesToHex(p.bands)]),
      // Edge probes are not listed (their shingles are in the coarse signature only).
      V2_PROBES.filter(([, kind]) => kind !== "edge").map(([id]) => [id, V2_BANDS[id] ?? "empty"]),
    );
    assert.equal(
      bytesToHex(s.coarse.subarray(0, 32)),
      "c64a9a44409b52dd8f6d4d041284aa712bdf65a6a25b36e65a4bd14eeb9ab4c7",
    );
    assert.equal(
      bytesToHex(sha256(s.coarse)),
      "ed6592149210727d437079aa9a2a2cb7c1099b4d6458fa61dcb38f799208406d",
    );
  });

  it("the v1 golden fingerprint under version 2: exactly the committed bytes, no wrong answers, no edge probe", () => {
    const s = buildSketch(INPUTS, { epochKey: KEY, epochId: EPOCH });
    assert.equal(s.version, 2);
    assert.deepEqual(s.wrongAnswers, []); // edge-001's wrong answer is not published in version 2
    assert.deepEqual(
      s.probes.map((p) => p.probeId),
      ["cmpl-001", "open-001", "open-002"],
    );
    assert.equal(s.simhash, 13489307305688301370n);
    // Version 1's seeds, so version 1's SimHash (the coarse and per-probe row values are shared too).
    assert.equal(s.simhash, buildSketch(INPUTS, { epochKey: KEY, epochId: EPOCH, version: 1 }).simhash);
    const bytes = encodeSketch(s);
    assert.equal(bytes.length, 4423); // v1: 4707, less the wrong-answer digest and the two edge probes
    assert.equal(
      bytesToHex(sha256(bytes)),
      "dcbdb91c118e9a0bf4b366a77d7a783242cefeb6a85a025c4b0325acdfdd3341",
    );
    assert.deepEqual(decodeSketch(bytes), {
      ...s,
      probes: s.probes.map((p) => ({ ...p, bands: p.bands.slice() })),
    });
  });
});
