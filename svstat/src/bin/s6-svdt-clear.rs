fn main() {
    svstat::svdt_clear_main()
}
