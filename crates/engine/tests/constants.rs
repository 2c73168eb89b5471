//! Writes `js-shim/src/engine-types/constants.ts` from the engine's
//! constants, beside the types ts-rs writes; `npm test` fails when the
//! committed file differs. Kept out of the crate's sources, which do no I/O.

use engine::api::typescript_constants;
use engine::policy::DEFAULT_BATCH_SIZE;

#[test]
fn writes_the_constants_typescript_reads() {
    let text = typescript_constants();
    assert!(text.contains(&format!(
        "export const DEFAULT_BATCH_SIZE = {DEFAULT_BATCH_SIZE};"
    )));
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../js-shim/src/engine-types/constants.ts");
    std::fs::write(&path, text).expect("js-shim/src/engine-types is writable");
}
