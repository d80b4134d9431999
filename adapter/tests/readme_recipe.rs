//! The README's recipe "a Rust test with the in-process emulator", compiled and run as it is
//! printed there (the second test checks the README still prints exactly this).

// recipe:start
use convex_storage_emulator::Emulator;
use durable_execution_storage_convex::{
    ConvexStorageOptions, ConvexTaskExecutionsStorage, GetByIdRequest, TaskExecutionsStorage,
};

#[tokio::test]
async fn stores_through_an_in_process_emulator() -> anyhow::Result<()> {
    // In memory, on 127.0.0.1 with a free port, with a random secret; no binary, no Docker.
    let emulator = Emulator::builder().start().await?;
    let storage = ConvexTaskExecutionsStorage::new(
        emulator.url(),
        emulator.auth_secret(),
        ConvexStorageOptions {
            enable_test_mode: true,
            ..Default::default()
        },
    )?;

    let lookup = GetByIdRequest {
        execution_id: "not-there".into(),
        filters: None,
    };
    assert_eq!(storage.get_many_by_id(vec![lookup]).await?, vec![None]);

    emulator.shutdown().await; // also stops when dropped
    Ok(())
}
// recipe:end

#[test]
fn the_readme_prints_this_recipe() {
    let source = include_str!("readme_recipe.rs");
    let start = source.find("// recipe:start\n").unwrap() + "// recipe:start\n".len();
    let end = source.find("// recipe:end").unwrap();
    let recipe = &source[start..end];
    let readme = include_str!("../../README.md");
    assert!(
        readme.contains(recipe),
        "README.md's Rust recipe differs from adapter/tests/readme_recipe.rs:\n{recipe}"
    );
}
