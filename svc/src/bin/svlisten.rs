fn main() {
    svc::svlisten_main()
}
