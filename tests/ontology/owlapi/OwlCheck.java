// Loads Turtle with the OWL API, as Protégé does, and checks the OWL 2 DL profile.
import java.io.File;
import org.semanticweb.owlapi.apibinding.OWLManager;
import org.semanticweb.owlapi.model.OWLOntology;
import org.semanticweb.owlapi.model.OWLOntologyManager;
import org.semanticweb.owlapi.profiles.OWL2DLProfile;
import org.semanticweb.owlapi.profiles.OWLProfileReport;
import org.semanticweb.owlapi.profiles.OWLProfileViolation;

public class OwlCheck {
  public static void main(String[] args) throws Exception {
    OWLOntologyManager manager = OWLManager.createOWLOntologyManager();
    OWLOntology onto = manager.loadOntologyFromOntologyDocument(new File(args[0]));
    System.out.println("classes " + onto.getClassesInSignature().size());
    System.out.println("objectProperties " + onto.getObjectPropertiesInSignature().size());
    System.out.println("dataProperties " + onto.getDataPropertiesInSignature().size());
    OWLProfileReport report = new OWL2DLProfile().checkOntology(onto);
    System.out.println("dl " + report.isInProfile());
    for (OWLProfileViolation v : report.getViolations()) {
      System.out.println("violation " + v);
    }
  }
}
