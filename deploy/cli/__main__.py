from deploy.cli.app import main

main()
