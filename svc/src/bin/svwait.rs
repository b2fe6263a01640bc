fn main() {
    svc::svwait_main()
}
