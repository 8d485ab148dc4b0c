//! `sluice test`: the flow-test runner (`sluice-flowtest`) with the command line's options;
//! exit 1 when a case fails, 2 when a fixture cannot be tested.

use sluice_flowtest::TestConfig;

use crate::args::TestArgs;
use crate::error::CliError;
use crate::exit::Exit;

/// `sluice test PATHS…`.
pub(crate) fn test(args: TestArgs) -> Result<Exit, CliError> {
    let config = TestConfig {
        paths: if args.paths.is_empty() {
            vec!["workflows".into()]
        } else {
            args.paths
        },
        update: args.update,
        record: args.record,
        case: args.case,
        connections: args.connections,
        color: crate::color(),
    };
    let totals = crate::block_on(async move { Ok(sluice_flowtest::run(&config).await?) })?;
    Ok(if totals.usage > 0 {
        Exit::Usage
    } else if totals.failed > 0 {
        Exit::Failure
    } else {
        Exit::Success
    })
}
