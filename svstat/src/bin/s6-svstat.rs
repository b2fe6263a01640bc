fn main() {
    svstat::svstat_main()
}
