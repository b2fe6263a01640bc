fn main() {
    svstat::svdt_main()
}
