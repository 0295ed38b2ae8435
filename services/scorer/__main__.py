from services.scorer.app import main

main()
