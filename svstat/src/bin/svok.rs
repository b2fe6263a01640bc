fn main() {
    svstat::svok_main()
}
