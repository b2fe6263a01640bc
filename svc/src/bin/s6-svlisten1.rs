fn main() {
    svc::svlisten1_main()
}
