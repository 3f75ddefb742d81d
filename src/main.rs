fn main() -> std::process::ExitCode {
    mindlens::cli::main()
}
